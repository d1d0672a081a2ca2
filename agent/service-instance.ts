/**
 * The agent's handle on one service instance, which runs under a supervisor
 * process of its own (agent/service-supervisor.ts): the supervisor, not this
 * event loop, enforces the hard deadline and kills the instance when the
 * agent dies, so a frozen or killed agent never leaves an instance running
 * past its lease.
 *
 * The supervisor is started detached (a process group of its own): a Ctrl-C
 * on the agent's terminal reaches the agent only, which then stops its
 * instances with their grace; if the agent dies instead, the supervisor sees
 * its stdin close and kills the instance at once.
 *
 * Callbacks, in this order: `started` once the command runs, `output` for
 * each chunk of its output, then `exited` exactly once, whatever happened
 * (the command ended, could not start, or the supervisor itself died).
 * Output that a process left holding the pipes after the end may still come
 * after `exited`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'

export interface InstanceSpec {
  /** argv, no shell. */
  command: string[]
  /** Added to the agent's environment. */
  env: Record<string, string>
  /** stop(): SIGTERM, then SIGKILL after this long. */
  stopGraceMs: number
}

export interface InstanceEnd { code: number | null, signal: string | null, error?: string }

export interface InstanceCallbacks {
  started: (pid: number) => void
  exited: (end: InstanceEnd) => void
  output: (stream: 'stdout' | 'stderr', text: string) => void
}

/** After the supervisor exits, how long its pipes may take to deliver the last output before `exited` is reported anyway (a forked process that escaped the group can hold them open). */
const DRAIN_MS = 1000

/** The machine-wide monotonic clock (CLOCK_MONOTONIC) in ms, as the supervisor reads it: `killAt` is on this clock. */
export function monotonicNowMs (): number {
  return Number(process.hrtime.bigint() / 1000000n)
}

/** The supervisor script next to this module: .ts in a checkout, .js when compiled, .mjs beside a bundle. */
function supervisorScript (): string | undefined {
  for (const name of ['./service-supervisor.ts', './service-supervisor.js', './service-supervisor.mjs']) {
    try {
      const url = new URL(name, import.meta.url)
      if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) return fileURLToPath(url)
    } catch {
      // no file URL to check (a CommonJS bundle): try the next
    }
  }
  return undefined
}

/** Calls `fn` with each complete line of `stream`. */
function eachLine (stream: Readable, fn: (line: string) => void): void {
  let pending = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    pending += chunk
    let nl: number
    while ((nl = pending.indexOf('\n')) >= 0) {
      fn(pending.slice(0, nl))
      pending = pending.slice(nl + 1)
    }
  })
}

export class SupervisedInstance {
  readonly #spec: InstanceSpec
  readonly #callbacks: InstanceCallbacks
  #proc: ChildProcess | undefined
  #pid: number | undefined
  /** What the supervisor reported: the command's end, or why it could not start. */
  #end: InstanceEnd | undefined
  #done = false
  /** Output that came before the pid (the pipes race each other): delivered after `started`. */
  #held: Array<['stdout' | 'stderr', string]> | undefined = []
  readonly #waiters: Array<() => void> = []

  constructor (spec: InstanceSpec, callbacks: InstanceCallbacks) {
    this.#spec = spec
    this.#callbacks = callbacks
  }

  /** The command's pid once started. */
  get pid (): number | undefined { return this.#pid }

  /** Starts the command; `killAt` (on monotonicNowMs) is when the supervisor kills it unless extended, null for never. */
  start (killAt: number | null): void {
    if (this.#proc !== undefined || this.#end !== undefined || this.#done) throw new Error('instance already started')
    const script = supervisorScript()
    if (script === undefined) {
      this.#end = { code: null, signal: null, error: 'service supervisor script not found' }
      process.nextTick(() => { this.#finish(this.#end) })
      return
    }
    // a .ts script needs type stripping in the supervisor too where this Node does not do it by default
    const flags = ['--no-warnings', ...process.execArgv.filter(f => f === '--experimental-strip-types')]
    const spec = JSON.stringify({ command: this.#spec.command, env: this.#spec.env, killAt })
    const proc = spawn(process.execPath, [...flags, script, spec], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], detached: true })
    this.#proc = proc
    // writes to a supervisor that is gone fail here instead of crashing the agent
    proc.stdin?.on('error', () => {})
    for (const [name, stream] of [['stdout', proc.stdout], ['stderr', proc.stderr]] as const) {
      stream?.setEncoding('utf8')
      stream?.on('data', (text: string) => { this.#output(name, text) })
      stream?.on('error', () => {})
    }
    const status = proc.stdio[3] as Readable
    status.on('error', () => {})
    eachLine(status, (line) => { this.#status(line) })
    proc.on('error', (err) => { this.#finish({ code: null, signal: null, error: `supervisor: ${err.message}` }) })
    // the status line may still be in the pipe when 'exit' comes: judge once the pipes closed ('close'), or DRAIN_MS later
    let drained: ReturnType<typeof setTimeout> | undefined
    const settle = (code: number | null, signal: string | null): void => {
      clearTimeout(drained)
      if (this.#end === undefined) this.#supervisorDied(code, signal)
      this.#finish(this.#end)
    }
    proc.on('exit', (code, signal) => {
      // a supervisor killed by a signal did not kill its instance: do it now rather than after the drain
      if (signal != null) this.#killGroup()
      drained = setTimeout(() => { settle(code, signal) }, DRAIN_MS)
    })
    proc.on('close', settle)
  }

  /** Moves the hard deadline (null: none). */
  extend (killAt: number | null): void {
    this.#send({ killAt })
  }

  /** SIGTERM, then SIGKILL after stopGraceMs; resolves once the instance has exited. */
  async stop (): Promise<void> {
    if (this.#done) return
    const exited = new Promise<void>((resolve) => { this.#waiters.push(resolve) })
    if (this.#proc === undefined && this.#end === undefined) this.#finish({ code: null, signal: null, error: 'stopped before start' })
    else this.#send({ stop: this.#spec.stopGraceMs })
    await exited
  }

  #send (msg: unknown): void {
    const stdin = this.#proc?.stdin
    if (stdin == null || !stdin.writable || this.#end !== undefined) return
    stdin.write(JSON.stringify(msg) + '\n')
  }

  #status (line: string): void {
    let msg: { pid?: number, exit?: { code: number | null, signal: string | null }, error?: string }
    try {
      msg = JSON.parse(line)
    } catch {
      return
    }
    if (typeof msg.pid === 'number' && this.#pid === undefined) {
      this.#pid = msg.pid
      this.#callbacks.started(msg.pid)
      this.#release()
    } else if (msg.exit != null) {
      this.#end ??= { code: msg.exit.code, signal: msg.exit.signal }
    } else if (typeof msg.error === 'string') {
      this.#end ??= { code: null, signal: null, error: msg.error }
    }
  }

  #output (stream: 'stdout' | 'stderr', text: string): void {
    if (this.#held !== undefined) this.#held.push([stream, text])
    else this.#callbacks.output(stream, text)
  }

  #release (): void {
    const held = this.#held ?? []
    this.#held = undefined
    for (const [stream, text] of held) this.#callbacks.output(stream, text)
  }

  /** The supervisor ended without reporting the command's end: kill the group it may have left behind. */
  #supervisorDied (code: number | null, signal: string | null): void {
    this.#killGroup()
    const how = signal != null ? `killed by ${signal}` : `exited with code ${String(code)}`
    this.#end = { code: null, signal, error: `service supervisor ${how}` }
  }

  #killGroup (): void {
    if (this.#pid === undefined) return
    try {
      process.kill(-this.#pid, 'SIGKILL')
    } catch {
      // the group is gone already
    }
  }

  #finish (end: InstanceEnd | undefined): void {
    if (this.#done) return
    this.#done = true
    this.#end ??= end ?? { code: null, signal: null, error: 'service supervisor ended without a status' }
    try {
      this.#release()
      this.#callbacks.exited(this.#end)
    } finally {
      for (const resolve of this.#waiters.splice(0)) resolve()
    }
  }
}
