/**
 * Services in the agent: drives the sans-IO services core (services/) with
 * the real clock, carries its messages over the work transport, runs its
 * instances (service-runner.ts) and stores its registry (services-store.ts).
 * The simulator drives the same core the same way (testkit/sim/service-layer.ts).
 */
import { CoreDriver, type DriverTimers, type Member } from '../membership/index.ts'
import {
  InvalidServiceError, parseDefinition, ServicesNode, toServicePeer,
  type MembershipHealth, type PersistedServices, type ServiceEffect, type ServicesStats, type ServiceEventType, type ServiceView
} from '../services/index.ts'
import type { ServiceWireMessage, WireMessage } from '../gossip/index.ts'
import { ServiceRunner, type InProcessService } from './service-runner.ts'
import { loadServices, ServicesStore } from './services-store.ts'
import { realTimers } from './real-timers.ts'
import type { ResolvedAgentOptions } from './config.ts'
import type { WorkDriver } from './work.ts'
import { availableParallelism, loadavg } from 'node:os'
import { LogsLookup, type MemberLogLine } from './service-logs-lookup.ts'

export type { InProcessService, ServiceContext, StopFn } from './service-runner.ts'
export { InvalidServiceError }

/**
 * How often the load besides instances is sampled while a service is defined
 * (state reports carry it, every few seconds at most; placement is its only
 * reader, so with no service defined nothing samples it and an idle agent
 * does not wake for it).
 */
const LOAD_SAMPLE_MS = 2000

export const SERVICE_EVENT_TYPES: readonly ServiceEventType[] = ['service:started', 'service:stopped', 'service:moved', 'service:failed']

export interface ServiceEventView {
  service: string
  instance: string
  epoch: number
  /** This agent's name: where the instance runs. */
  member: string
  reason?: string
  /** service:moved: the member that ran it before. */
  from?: string
}

/** What `agent.services` offers an embedding program (and the control API). */
export interface ServicesApi {
  /** Adds or replaces a service cluster-wide (definition as in docs/services.md); throws InvalidServiceError. */
  define: (definition: unknown) => { name: string, version: number }
  /** Removes a service everywhere; false when no such service is defined. */
  remove: (name: string) => boolean
  /** Every service with its instances across the cluster, as this agent knows them. */
  list: () => ServiceView[]
  /** Registers an in-process service of this name here: this agent becomes eligible to run it. */
  register: (name: string, service: InProcessService) => void
  /** Output of the service's instances: kept here, and asked of every member that runs one (logs-lookup). */
  logs: (name: string) => Promise<MemberLogLine[]>
  /** Counters of the services core (lease rounds, grants, starts, restarts...). */
  stats: () => ServicesStats
}

export interface ServicesDriverOptions {
  self: { id: string, name: string, tags: Record<string, string> }
  allowExec: boolean
  dataDir?: string
  persisted: PersistedServices
  timers: DriverTimers
  transport: { publish: (msg: WireMessage) => void, send: (to: string, msg: WireMessage) => void }
  /** Load besides service instances (busy task slots, CPU per core), sampled every LOAD_SAMPLE_MS while a service is defined. */
  otherLoad: () => number
  onEvent: (type: ServiceEventType, view: ServiceEventView) => void
  warn: (message: string) => void
}

export class ServicesDriver {
  readonly #core: ServicesNode
  readonly #driver: CoreDriver<ServiceEffect>
  readonly #runner: ServiceRunner
  readonly #store: ServicesStore
  readonly #handlers = new Map<string, InProcessService>()
  readonly #opts: ServicesDriverOptions
  readonly #logs: LogsLookup
  #loadTimer: ReturnType<typeof setInterval> | undefined
  /** Member names by id, for events. */
  #names = new Map<string, string>()
  readonly api: ServicesApi

  constructor (opts: ServicesDriverOptions) {
    this.#opts = opts
    const now = opts.timers.now()
    const wallOffset = Date.now() - now
    this.#core = new ServicesNode({
      self: opts.self,
      now,
      persisted: opts.persisted,
      exec: opts.allowExec,
      seqBase: Date.now() * 1000,
      wallTime: t => Math.round(t + wallOffset)
    })
    this.#store = new ServicesStore(opts.dataDir, opts.warn)
    this.#runner = new ServiceRunner({
      agentName: opts.self.name,
      dataDir: opts.dataDir,
      clock: opts.timers.now,
      handlers: this.#handlers,
      callbacks: {
        started: (instance, pid) => { this.#driver.drive(t => this.#core.instanceStarted(t, instance, pid)) },
        exited: (instance, detail) => { this.#driver.drive(t => this.#core.instanceExited(t, instance, detail)) },
        unhealthy: (instance, detail) => { this.#driver.drive(t => this.#core.instanceUnhealthy(t, instance, detail)) }
      }
    })
    this.#driver = new CoreDriver({ core: this.#core, perform: effects => { this.#perform(effects) }, timers: opts.timers })
    this.#logs = new LogsLookup((to, msg) => { opts.transport.send(to, msg) }, name => this.#runner.logs(name))
    this.#sampleLoadWhile(defines(opts.persisted))
    this.api = {
      define: definition => this.#define(definition),
      remove: name => this.#remove(name),
      list: () => this.#core.view(),
      register: (name, service) => { this.#register(name, service) },
      logs: async name => await this.#gatherLogs(name),
      stats: () => this.#core.stats()
    }
  }

  /** The agent's services driver: its stored registry loaded, on the real clock, over the work transport. */
  static async create (options: ResolvedAgentOptions, id: string, work: WorkDriver, onEvent: ServicesDriverOptions['onEvent'], warn: (message: string) => void): Promise<ServicesDriver> {
    return new ServicesDriver({
      self: { id, name: options.name, tags: options.tags },
      // commands run under a Node supervisor script (service-supervisor.ts): not on Deno yet
      allowExec: options.allowExec && !('Deno' in globalThis),
      dataDir: options.dataDir,
      persisted: await loadServices(options.dataDir, warn),
      timers: realTimers(),
      transport: work.transport,
      // busy task slots, and the run queue per core: the weight placement gives a member falls with both
      otherLoad: () => work.stats().slots.running + loadavg()[0] / availableParallelism(),
      onEvent,
      warn
    })
  }

  /** Membership changed (a member event, a partition verdict): the services core sees the members and this node's side. */
  membersChanged (members: Member[], health: MembershipHealth): void {
    this.#names = new Map(members.map(m => [m.id, m.name]))
    this.#driver.drive(now => this.#core.members(now, members.map(toServicePeer), health))
  }

  receive (from: string, msg: ServiceWireMessage): void {
    if (msg.type === 'service-logs-query' || msg.type === 'service-logs') this.#logs.receive(from, msg)
    else this.#driver.drive(now => this.#core.receive(now, from, msg))
  }

  /** Graceful leave: stop the instances here and give up the leases, then wait for them to end. */
  async leave (): Promise<void> {
    this.#driver.drive(now => this.#core.leave(now))
    await this.#runner.stopAll()
  }

  /** The agent stops: its instances stop with it (their supervisors would kill them anyway). */
  async stop (): Promise<void> {
    this.#driver.drive(now => this.#core.leave(now))
    this.#driver.stop()
    this.#sampleLoadWhile(false)
    await this.#runner.stopAll()
    await this.#store.flushed()
  }

  #define (input: unknown): { name: string, version: number } {
    const definition = parseDefinition(input)
    let version = 0
    this.#driver.drive(now => {
      const { entry, effects } = this.#core.define(now, definition)
      version = entry.version.clock
      return effects
    })
    return { name: definition.name, version }
  }

  #remove (name: string): boolean {
    let removed = false
    this.#driver.drive(now => {
      const result = this.#core.remove(now, name)
      removed = result != null
      return result?.effects ?? []
    })
    return removed
  }

  async #gatherLogs (name: string): Promise<MemberLogLine[]> {
    const others = new Map<string, string>()
    for (const i of this.#core.view().find(s => s.name === name)?.instances ?? []) {
      if (i.peerId !== this.#opts.self.id) others.set(i.peerId, i.member)
    }
    return await this.#logs.gather(name, this.#opts.self.name, others)
  }

  #register (name: string, service: InProcessService): void {
    if (typeof service?.start !== 'function') throw new InvalidServiceError('an in-process service needs a start(ctx) function')
    parseDefinition({ name, mode: 'singleton' }) // the same name rules as definitions
    this.#handlers.set(name, service)
    this.#driver.drive(now => this.#core.setHandlers(now, [...this.#handlers.keys()]))
  }

  #sampleLoadWhile (defined: boolean): void {
    if (defined && this.#loadTimer == null) {
      this.#sampleLoad()
      this.#loadTimer = setInterval(() => { this.#sampleLoad() }, LOAD_SAMPLE_MS)
      this.#loadTimer.unref?.()
    } else if (!defined && this.#loadTimer != null) {
      clearInterval(this.#loadTimer)
      this.#loadTimer = undefined
    }
  }

  #sampleLoad (): void {
    try {
      this.#core.noteLoad(this.#opts.otherLoad())
    } catch {
      // a runtime without a load figure: placement goes by instances alone
    }
  }

  #perform (effects: ServiceEffect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'publish': this.#opts.transport.publish(e.msg); break
        case 'send': this.#opts.transport.send(e.to, e.msg); break
        case 'start': this.#runner.start(e); break
        case 'extend': this.#runner.extend(e.instance, e.until); break
        case 'stop': this.#runner.stop(e.instance); break
        case 'persist':
          this.#store.save(e.state)
          this.#sampleLoadWhile(defines(e.state))
          break
        case 'event': {
          const from = e.from == null ? undefined : this.#names.get(e.from) ?? e.from
          this.#opts.onEvent(e.type, { service: e.service, instance: e.instance, epoch: e.epoch, member: this.#opts.self.name, reason: e.reason, from })
          break
        }
      }
    }
  }
}

/** Whether any service is defined in `state` (removed ones stay as entries without a definition). */
function defines (state: PersistedServices): boolean {
  return state.entries.some(e => e.definition != null)
}
