/**
 * The instances this member runs (at most one per service: replicas go to
 * distinct members), their restarts with backoff, and the services this
 * member gave up on after repeated failures (blocked for a while, so that
 * placement moves them elsewhere).
 */
import type { ServicesConfig } from './config.ts'
import type { InstanceReport, InstanceState, MemberId, ServiceDefinition } from './types.ts'

/** An instance here: what its member reports of it (InstanceReport), and what only this member needs. */
export interface LocalInstance extends InstanceReport {
  definition: ServiceDefinition
  /** The registry version of `definition` (registry.ts versionKey): a newer one restarts the instance. */
  version: string
  /** Core time of the next start after a failure. */
  restartAt?: number
  /** Why it is being stopped. */
  stopReason?: string
  /** The stop is a restart (a failed health check): its end counts as a failure. */
  restartAfterStop?: boolean
  /** Who ran the singleton before (a start here is then a move). */
  previousHolder?: MemberId
  /** Core times of recent failures (within restartWindowMs). */
  failures: number[]
}

export class LocalInstances {
  readonly #selfSuffix: string
  readonly #config: ServicesConfig
  readonly #byService = new Map<string, LocalInstance>()
  /** Service → core time until which this member does not run it. */
  readonly #blocks = new Map<string, number>()

  constructor (selfId: MemberId, config: ServicesConfig) {
    this.#selfSuffix = selfId.slice(-8)
    this.#config = config
  }

  add (definition: ServiceDefinition, version: string, epoch: number, wall: number, previousHolder?: MemberId, restarts = 0, failures: readonly number[] = []): LocalInstance {
    const local: LocalInstance = {
      service: definition.name,
      definition,
      version,
      instance: `${definition.name}/${epoch}/${this.#selfSuffix}`,
      epoch,
      state: 'starting',
      pid: null,
      since: wall,
      restarts,
      previousHolder,
      failures: [...failures]
    }
    this.#byService.set(definition.name, local)
    return local
  }

  get (service: string): LocalInstance | undefined {
    return this.#byService.get(service)
  }

  byInstance (instance: string): LocalInstance | undefined {
    for (const local of this.#byService.values()) if (local.instance === instance) return local
    return undefined
  }

  delete (local: LocalInstance): void {
    if (this.#byService.get(local.service) === local) this.#byService.delete(local.service)
  }

  all (): LocalInstance[] {
    return [...this.#byService.values()]
  }

  get size (): number {
    return this.#byService.size
  }

  setState (local: LocalInstance, state: InstanceState, wall: number, pid?: number | null): void {
    local.state = state
    local.since = wall
    if (pid !== undefined) local.pid = pid
  }

  /**
   * The instance ended without being asked to: restart it after a backoff
   * (doubling from restart.initialMs), or, after maxRestartsBeforeMove
   * failures within restartWindowMs, give the service up here for blockMs.
   */
  failed (local: LocalInstance, now: number, wall: number): 'restart' | 'give-up' {
    local.failures = [...local.failures.filter(t => t > now - this.#config.restartWindowMs), now]
    local.restarts++
    local.stopReason = undefined
    local.restartAfterStop = false
    this.setState(local, 'failed', wall, null)
    if (local.failures.length >= this.#config.maxRestartsBeforeMove) {
      this.#blocks.set(local.service, now + this.#config.blockMs)
      return 'give-up'
    }
    const { initialMs, maxMs } = local.definition.restart
    local.restartAt = now + Math.min(maxMs, initialMs * 2 ** (local.failures.length - 1))
    return 'restart'
  }

  blocked (): string[] {
    return [...this.#blocks.keys()].sort()
  }

  expireBlocks (now: number): boolean {
    let changed = false
    for (const [service, until] of this.#blocks) {
      if (until <= now) { this.#blocks.delete(service); changed = true }
    }
    return changed
  }

  reports (): InstanceReport[] {
    return this.all().map(l => ({ service: l.service, instance: l.instance, epoch: l.epoch, state: l.state, pid: l.pid, since: l.since, restarts: l.restarts }))
  }
}
