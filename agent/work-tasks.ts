/**
 * The task runner of the work driver: the tasks the work core granted this
 * node, run in `slots` slots (CPU-bound built-ins in task threads, the rest
 * on the event loop), the others waiting their turn.
 */
import type { TaskOutcome, Workload } from '../workloads/index.ts'
import { ThreadPool, ThreadsUnavailableError } from './task-threads.ts'

/** Tasks a worker holds ready per slot, besides the running one (see TaskRunner.run). */
export const PREFETCH_PER_SLOT = 1

export interface TaskRunnerOptions {
  /** The workloads this node has (shared with the work core; registrations show up here). */
  registry: ReadonlyMap<string, Workload>
  /** Tasks that run at once. */
  slots: number
  /** This node's name and tags, as a workload's run() is told. */
  name: string
  tags: Record<string, string>
  /** A task ended, not aborted: its outcome goes to the work core. */
  finished: (jobId: string, index: number, outcome: TaskOutcome) => void
}

export class TaskRunner {
  readonly #registry: ReadonlyMap<string, Workload>
  readonly #slots: number
  readonly #name: string
  readonly #tags: Record<string, string>
  readonly #finished: TaskRunnerOptions['finished']
  readonly #pool = new ThreadPool()
  readonly #running = new Map<string, AbortController>()
  /** Granted tasks waiting for a free slot (see run). */
  readonly #waiting: Array<{ controller: AbortController, start: () => void }> = []
  #active = 0
  readonly #threadStats = { threadRuns: 0, loopRuns: 0 }

  constructor (opts: TaskRunnerOptions) {
    this.#registry = opts.registry
    this.#slots = opts.slots
    this.#name = opts.name
    this.#tags = opts.tags
    this.#finished = opts.finished
  }

  /** A job of `workload` is on its way: start the task threads if it is CPU-bound. */
  warmFor (workload: string): void {
    if (this.#registry.get(workload)?.cpuBound === true) this.#pool.warm(this.#slots)
  }

  /**
   * A granted task: runs now if fewer than `slots` run, else waits its turn
   * here. The core is given `slots` extra (PREFETCH_PER_SLOT): a worker holds
   * its next task while the current one runs, so a CPU never waits a claim
   * round trip between two tasks. Waiting tasks keep their leases renewed.
   */
  run (jobId: string, workloadName: string, index: number, input: unknown): void {
    const key = `${jobId}/${index}`
    const controller = new AbortController()
    this.#running.set(key, controller)
    const start = (): void => {
      this.#active++
      this.#start(key, controller, jobId, workloadName, index, input)
    }
    if (this.#active < this.#slots) start()
    else this.#waiting.push({ controller, start })
  }

  /** The core revoked the task's lease: it stops (or never starts) and is never reported. */
  abort (jobId: string, index: number): void {
    const key = `${jobId}/${index}`
    this.#running.get(key)?.abort(new Error('lease revoked'))
    this.#running.delete(key)
  }

  /** The agent stops: every task is aborted, running or waiting. */
  abortAll (): void {
    for (const controller of this.#running.values()) controller.abort(new Error('agent stopping'))
    this.#running.clear()
    this.#waiting.length = 0
  }

  /** Stops the task threads. */
  async close (): Promise<void> {
    await this.#pool.close().catch(() => {})
  }

  stats (): { threads: { threadRuns: number, loopRuns: number }, slots: { total: number, running: number, waiting: number } } {
    return {
      threads: { ...this.#threadStats },
      slots: { total: this.#slots, running: this.#active, waiting: this.#waiting.filter(w => !w.controller.signal.aborted).length }
    }
  }

  /** A run ended (or was aborted): the next waiting task may start. */
  #runEnded (): void {
    this.#active--
    while (this.#active < this.#slots && this.#waiting.length > 0) {
      const next = this.#waiting.shift()!
      if (!next.controller.signal.aborted) next.start()
    }
  }

  #start (key: string, controller: AbortController, jobId: string, workloadName: string, index: number, input: unknown): void {
    const signal = controller.signal
    let ended = false
    const end = (): void => { if (!ended) { ended = true; this.#runEnded() } }
    signal.addEventListener('abort', end, { once: true })
    const finish = (outcome: TaskOutcome): void => {
      end()
      if (signal.aborted || this.#running.get(key) !== controller) return // aborted: never reported
      this.#running.delete(key)
      this.#finished(jobId, index, outcome)
    }
    const workload = this.#registry.get(workloadName)
    if (workload == null) {
      // only broadcast tasks are claimed without the workload: answer why
      queueMicrotask(() => { finish({ ok: true, value: { error: `workload "${workloadName}" is not enabled on this node` } }) })
      return
    }
    const onLoop = async (): Promise<unknown> => {
      this.#threadStats.loopRuns++
      return await workload.run(input, { signal, node: this.#name, tags: this.#tags })
    }
    const run = workload.cpuBound === true
      ? this.#pool.run(workloadName, input, this.#name, signal)
        .then(value => { this.#threadStats.threadRuns++; return value })
        .catch(async (err: unknown) => { if (err instanceof ThreadsUnavailableError) return await onLoop(); throw err })
      : onLoop()
    run.then(
      value => { finish({ ok: true, value: value ?? null }) },
      (err: unknown) => { finish({ ok: false, error: err instanceof Error ? err.message : String(err) }) }
    )
  }
}
