/**
 * A pool of task threads for CPU-bound built-in workloads, so that a long
 * `primes` chunk never stalls the event loop that answers SWIM probes (a
 * stalled loop looks like a dead node to the rest of the cluster).
 *
 * Threads start on demand, run one task at a time, and exit after being idle
 * for `idleMs` (an idle agent keeps no thread's memory). Aborting a task
 * terminates its thread: a synchronous loop cannot be interrupted otherwise.
 * Where threads cannot start (a runtime without node:worker_threads, a
 * missing thread script) `run` rejects with ThreadsUnavailableError and the
 * caller runs the task on the event loop instead.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { releaseOptimizingCompilers } from './compiler-release.ts'

export class ThreadsUnavailableError extends Error {
  override name = 'ThreadsUnavailableError'
}

interface Slot {
  thread: Worker
  busy: boolean
  idleTimer?: ReturnType<typeof setTimeout>
}

/** The thread script next to this module: .ts in a checkout, .js when compiled, .mjs beside the CLI bundle. */
function threadScript (): URL | undefined {
  for (const name of ['./task-thread.ts', './task-thread.js', './task-thread.mjs']) {
    const url = new URL(name, import.meta.url)
    try {
      if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) return url
    } catch {
      // not a file URL we can check: try the next
    }
  }
  return undefined
}

export class ThreadPool {
  readonly #idleMs: number
  readonly #idle: Slot[] = []
  #closed = false
  /** Threads running a task now. */
  #busy = 0
  readonly #script = threadScript()

  constructor (idleMs = 30_000) {
    this.#idleMs = idleMs
  }

  /** Runs built-in `workload` on `task` in a thread. Rejects with the task's error, or 'aborted'. */
  async run (workload: string, task: unknown, node: string, signal: AbortSignal): Promise<unknown> {
    if (this.#closed) throw new Error('thread pool closed')
    if (signal.aborted) throw new Error('aborted')
    const slot = this.#take()
    this.#busy++
    return await new Promise((resolve, reject) => {
      const finish = (settle: () => void, reuse: boolean): void => {
        slot.thread.off('message', onMessage)
        slot.thread.off('error', onError)
        slot.thread.off('exit', onExit)
        signal.removeEventListener('abort', onAbort)
        this.#busy--
        if (reuse) this.#release(slot)
        else void slot.thread.terminate()
        settle()
      }
      const onMessage = (msg: { ok: boolean, value?: unknown, error?: string }): void => {
        finish(() => { msg.ok ? resolve(msg.value) : reject(new Error(msg.error)) }, true)
      }
      const onError = (err: Error): void => { finish(() => { reject(err) }, false) }
      const onExit = (): void => { finish(() => { reject(new Error('task thread exited')) }, false) }
      const onAbort = (): void => { finish(() => { reject(new Error('aborted')) }, false) }
      slot.thread.on('message', onMessage)
      slot.thread.on('error', onError)
      slot.thread.on('exit', onExit)
      signal.addEventListener('abort', onAbort, { once: true })
      slot.thread.postMessage({ workload, task, node })
    })
  }

  /**
   * Starts idle threads up to `count` in the background, so that the first
   * tasks of a CPU-bound job do not each wait for a thread to boot (hundreds
   * of ms on a busy host). Idle ones exit after `idleMs` as usual.
   */
  warm (count: number): void {
    if (this.#closed || this.#script == null) return
    for (let i = this.#idle.length + this.#busy; i < count; i++) {
      let slot: Slot
      try {
        slot = { thread: this.#startThread(this.#script), busy: false }
      } catch {
        return
      }
      slot.thread.unref()
      this.#release(slot)
    }
  }

  /** A new task thread. Built-in workloads are loops that want optimized code: the compilers come back first. */
  #startThread (script: URL): Worker {
    releaseOptimizingCompilers()
    return new Worker(script)
  }

  /** Terminates every idle thread; running ones end with their tasks' aborts. */
  async close (): Promise<void> {
    this.#closed = true
    const idle = this.#idle.splice(0)
    await Promise.all(idle.map(async s => { clearTimeout(s.idleTimer); await s.thread.terminate() }))
  }

  #take (): Slot {
    const idle = this.#idle.pop()
    if (idle != null) {
      clearTimeout(idle.idleTimer)
      idle.busy = true
      return idle
    }
    if (this.#script == null) throw new ThreadsUnavailableError('task thread script not found')
    let thread: Worker
    try {
      thread = this.#startThread(this.#script)
    } catch (err) {
      throw new ThreadsUnavailableError(`cannot start a task thread: ${(err as Error).message}`)
    }
    thread.unref()
    return { thread, busy: true }
  }

  #release (slot: Slot): void {
    slot.busy = false
    if (this.#closed) {
      void slot.thread.terminate()
      return
    }
    slot.idleTimer = setTimeout(() => {
      const i = this.#idle.indexOf(slot)
      if (i >= 0) this.#idle.splice(i, 1)
      void slot.thread.terminate()
    }, this.#idleMs)
    slot.idleTimer.unref?.()
    this.#idle.push(slot)
  }
}
