/**
 * Runs the instances the services core starts here: a command under its own
 * supervisor (service-instance.ts, so that it dies with a killed or frozen
 * agent), or an in-process service the embedding program registered. Also
 * each running instance's health check, and its output (service-logs.ts).
 *
 * Deadlines arrive as core times (`until`) and are handed on as absolute
 * times of the machine's monotonic clock, which the supervisor reads too.
 */
import { join } from 'node:path'
import type { ServiceDefinition } from '../services/index.ts'
import { runCheck } from './service-checks.ts'
import { monotonicNowMs, SupervisedInstance, type InstanceEnd } from './service-instance.ts'
import { InstanceLog, type LogLine } from './service-logs.ts'

/** What an in-process service gets when it starts. */
export interface ServiceContext {
  service: string
  instance: string
  /** The fencing epoch: strictly higher at every start of a singleton. Reject writes of lower epochs. */
  epoch: number
  agentName: string
  /** Aborted when the instance must stop (its lease ended, it moved, the agent stops). */
  signal: AbortSignal
}

/** An in-process service: `start` returns what stops it. */
export interface InProcessService {
  start: (ctx: ServiceContext) => StopFn | Promise<StopFn>
}
export type StopFn = () => void | Promise<void>

export interface RunnerCallbacks {
  started: (instance: string, pid: number | null) => void
  exited: (instance: string, detail: string) => void
  unhealthy: (instance: string, detail: string) => void
}

export interface StartRequest {
  service: string
  instance: string
  epoch: number
  definition: ServiceDefinition
  /** Core time by which it must be dead unless extended; null: no deadline. */
  until: number | null
}

interface Running {
  service: string
  process?: SupervisedInstance
  inProcess?: { abort: AbortController, stop?: Promise<StopFn | undefined>, deadline?: ReturnType<typeof setTimeout> }
  checkTimer?: ReturnType<typeof setInterval>
  ended: Promise<void>
  end: () => void
}

export class ServiceRunner {
  readonly #agentName: string
  readonly #dataDir: string | undefined
  readonly #clock: () => number
  readonly #callbacks: RunnerCallbacks
  readonly #handlers: Map<string, InProcessService>
  readonly #running = new Map<string, Running>()
  /** One log per service: every instance of it that ran here, in order. */
  readonly #logs = new Map<string, InstanceLog>()

  constructor (opts: { agentName: string, dataDir?: string, clock: () => number, callbacks: RunnerCallbacks, handlers: Map<string, InProcessService> }) {
    this.#agentName = opts.agentName
    this.#dataDir = opts.dataDir
    this.#clock = opts.clock
    this.#callbacks = opts.callbacks
    this.#handlers = opts.handlers
  }

  start (req: StartRequest): void {
    let end = (): void => {}
    const ended = new Promise<void>(resolve => { end = resolve })
    const running: Running = { service: req.service, ended, end }
    this.#running.set(req.instance, running)
    const log = this.logOf(req.service)
    log.append('stderr', `[agent] ${req.instance} starting (epoch ${req.epoch})\n`)
    if (req.definition.command != null) this.#startProcess(req, running, log)
    else void this.#startInProcess(req, running)
  }

  /** A singleton's lease was renewed: its new hard deadline. */
  extend (instance: string, until: number): void {
    const running = this.#running.get(instance)
    running?.process?.extend(this.#killAt(until))
    if (running?.inProcess != null) this.#armDeadline(instance, running, until)
  }

  stop (instance: string): void {
    const running = this.#running.get(instance)
    if (running == null) return
    if (running.process != null) void running.process.stop()
    else this.#stopInProcess(instance, running, 'stopped')
  }

  /** Stops every instance here and waits for them (each bounded by its stopGraceMs). */
  async stopAll (): Promise<void> {
    const all = [...this.#running.keys()]
    for (const instance of all) this.stop(instance)
    await Promise.all([...this.#running.values()].map(async r => await r.ended))
  }

  logOf (service: string): InstanceLog {
    let log = this.#logs.get(service)
    if (log == null) {
      log = new InstanceLog(this.#dataDir == null ? {} : { file: join(this.#dataDir, 'services', `${service}.log`) })
      this.#logs.set(service, log)
    }
    return log
  }

  /** The output kept here of `service`'s instances (none when it never ran here). */
  logs (service: string): LogLine[] {
    return this.#logs.get(service)?.lines() ?? []
  }

  // ---------------------------------------------------------------------------

  #killAt (until: number): number {
    return monotonicNowMs() + (until - this.#clock())
  }

  #startProcess (req: StartRequest, running: Running, log: InstanceLog): void {
    const env = {
      ...req.definition.env,
      AGENT_SERVICE: req.service,
      AGENT_NAME: this.#agentName,
      AGENT_SERVICE_INSTANCE: req.instance,
      AGENT_SERVICE_EPOCH: String(req.epoch)
    }
    const process = running.process = new SupervisedInstance(
      { command: req.definition.command as string[], env, stopGraceMs: req.definition.stopGraceMs },
      {
        started: pid => {
          this.#callbacks.started(req.instance, pid)
          this.#startChecks(req, running)
        },
        exited: end => { this.#ended(req.instance, running, describeEnd(end)) },
        output: (stream, text) => { log.append(stream, text) }
      }
    )
    process.start(req.until == null ? null : this.#killAt(req.until))
  }

  async #startInProcess (req: StartRequest, running: Running): Promise<void> {
    // set up at once, so that a stop that comes before the start below is not lost
    const handler = this.#handlers.get(req.service)
    const abort = new AbortController()
    running.inProcess = { abort }
    if (req.until != null) this.#armDeadline(req.instance, running, req.until)
    await Promise.resolve() // never report back from within the core's own effects
    if (abort.signal.aborted) return // stopped before it started: #stopInProcess ended it
    if (req.until != null && req.until <= this.#clock()) {
      this.#ended(req.instance, running, 'its lease ended before it started')
      return
    }
    if (handler == null) {
      this.#ended(req.instance, running, 'no in-process service of this name is registered here')
      return
    }
    const stop = running.inProcess.stop = Promise.resolve()
      .then(async () => await handler.start({ service: req.service, instance: req.instance, epoch: req.epoch, agentName: this.#agentName, signal: abort.signal }))
    try {
      await stop
    } catch (err) {
      this.#ended(req.instance, running, `start threw: ${(err as Error).message}`)
      return
    }
    if (abort.signal.aborted || !this.#running.has(req.instance)) return
    this.#callbacks.started(req.instance, null)
    this.#startChecks(req, running)
  }

  /** An in-process instance must stop at its lease's end even if the core says nothing (the event loop runs; the process is ours). */
  #armDeadline (instance: string, running: Running, until: number): void {
    const inProcess = running.inProcess
    if (inProcess == null) return
    clearTimeout(inProcess.deadline)
    inProcess.deadline = setTimeout(() => { this.#stopInProcess(instance, running, 'its lease ended') }, Math.max(0, until - this.#clock()))
  }

  #stopInProcess (instance: string, running: Running, why: string): void {
    const inProcess = running.inProcess
    if (inProcess == null || inProcess.abort.signal.aborted) return
    clearTimeout(inProcess.deadline)
    inProcess.abort.abort(new Error(why))
    void (async () => {
      const stop = await inProcess.stop?.catch(() => undefined)
      try {
        await stop?.()
      } catch {
        // a stop that throws still ends the instance
      }
      this.#ended(instance, running, why)
    })()
  }

  #startChecks (req: StartRequest, running: Running): void {
    const check = req.definition.check
    if (check == null) return
    let failures = 0
    let inFlight = false
    running.checkTimer = setInterval(() => {
      if (inFlight) return
      inFlight = true
      void runCheck(check).then(result => {
        inFlight = false
        if (!this.#running.has(req.instance)) return
        this.logOf(req.service).append('stderr', result.ok ? '' : `[agent] health check failed: ${result.detail}\n`)
        failures = result.ok ? 0 : failures + 1
        if (failures >= check.failuresBeforeRestart) {
          failures = 0
          this.#callbacks.unhealthy(req.instance, result.detail)
        }
      })
    }, check.intervalMs)
  }

  #ended (instance: string, running: Running, detail: string): void {
    if (this.#running.get(instance) !== running) return
    this.#running.delete(instance)
    clearInterval(running.checkTimer)
    if (running.inProcess != null) clearTimeout(running.inProcess.deadline)
    this.logOf(running.service).append('stderr', `[agent] ${instance} ended: ${detail}\n`)
    running.end()
    this.#callbacks.exited(instance, detail)
  }
}

function describeEnd (end: InstanceEnd): string {
  if (end.error != null) return end.error
  if (end.signal != null) return `killed by ${end.signal}`
  return `exited with code ${String(end.code)}`
}
