/**
 * The services core, sans-IO: one member's part in keeping the cluster's
 * services running. It holds the replicated registry (registry.ts), hears
 * every member's state (reports.ts), decides from placement (placement.ts)
 * which instances run here, guards singletons with the quorum lease
 * (lease.ts), and restarts or gives up instances that fail.
 *
 * Inputs come with the current core time; effects (send, publish, start,
 * extend, stop, persist, event) go back to the driver. No clock, no timer,
 * no process: the agent and the simulator drive it alike (membership/driver.ts).
 */
import { servicesConfig, type ServicesConfig } from './config.ts'
import type { LeaseClaim } from './lease.ts'
import { SingletonLeases, type LeaseStats } from './singleton-leases.ts'
import { place } from './placement.ts'
import { Registry, versionKey } from './registry.ts'
import { RegistrySync } from './registry-sync.ts'
import { ReportSchedule } from './report-schedule.ts'
import { ClusterView, type SelfSnapshot } from './cluster-view.ts'
import { LocalInstances, type LocalInstance } from './local-instances.ts'
import { servicesView, type ServiceView } from './view.ts'
import type {
  MemberId, MembershipHealth, MemberServiceState, PersistedServices, RegistryEntry,
  ServiceDefinition, ServiceEffect, ServiceMessage, ServicePeer, ServicesStats
} from './types.ts'

export interface ServicesNodeOptions {
  self: { id: MemberId, name: string, tags: Record<string, string> }
  /** Core time at creation. */
  now: number
  config?: Partial<ServicesConfig>
  /** What this member stored before it restarted. */
  persisted?: PersistedServices
  /** This member runs commands (`--allow-exec`). */
  exec: boolean
  /** The first report's seq: the agent passes the wall clock in ms, so that a restarted member's reports are newer than its old ones. */
  seqBase: number
  /** Wall-clock ms for a core time (shown as instances' `since`). */
  wallTime: (now: number) => number
}

export class ServicesNode {
  readonly self: ServicesNodeOptions['self']
  readonly config: ServicesConfig
  readonly #registry: Registry
  readonly #cluster: ClusterView
  readonly #leases: SingletonLeases
  readonly #local: LocalInstances
  readonly #exec: boolean
  readonly #wallTime: (now: number) => number
  #handlers: string[] = []
  /** Load besides this member's instances (busy task slots, CPU), as last noted. */
  #otherLoad = 0
  #seq: number
  readonly #report: ReportSchedule
  #lastReconcile = -Infinity
  #leaving = false
  readonly #sync: RegistrySync
  #out: ServiceEffect[] = []
  readonly #stats: Omit<ServicesStats, keyof LeaseStats | 'registryExchanges'> = { starts: 0, restarts: 0, givenUp: 0 }

  constructor (opts: ServicesNodeOptions) {
    this.self = opts.self
    this.config = servicesConfig(opts.config)
    this.#registry = new Registry(opts.persisted?.entries)
    this.#cluster = new ClusterView(opts.self.id, opts.persisted?.voters)
    this.#sync = new RegistrySync(this.#registry, this.config.stateRefreshMs)
    this.#report = new ReportSchedule(this.config)
    this.#leases = new SingletonLeases(opts.now, this.config, opts.persisted?.epochs, {
      self: opts.self.id,
      voters: () => this.#cluster.voters(),
      voterCount: () => this.#cluster.voterCount(),
      send: (to, msg) => { this.#out.push({ kind: 'send', to, msg }) },
      granted: (now, claim) => { this.#granted(now, claim) },
      runsHere: service => this.#local.get(service) != null
    })
    this.#local = new LocalInstances(opts.self.id, this.config)
    this.#exec = opts.exec
    this.#seq = opts.seqBase
    this.#wallTime = opts.wallTime
  }

  // --- inputs ---------------------------------------------------------------

  /** Adds or replaces a definition (already checked: definition.ts). */
  define (now: number, definition: ServiceDefinition): { entry: RegistryEntry, effects: ServiceEffect[] } {
    const entry = this.#registry.write(this.self.id, definition.name, definition)
    return { entry, effects: this.#run(now, () => { this.#announce(entry) }) }
  }

  /** Removes a service everywhere; undefined when no such service is defined. */
  remove (now: number, name: string): { entry: RegistryEntry, effects: ServiceEffect[] } | undefined {
    if (this.#registry.get(name)?.definition == null) return undefined
    const entry = this.#registry.write(this.self.id, name, null)
    return { entry, effects: this.#run(now, () => { this.#announce(entry) }) }
  }

  /** The members as membership sees them now, and this member's side. */
  members (now: number, peers: readonly ServicePeer[], health: MembershipHealth): ServiceEffect[] {
    return this.#run(now, () => {
      const known = this.#cluster.peers
      this.#cluster.setMembers(this.self.id, peers, health)
      if (peers.some(p => p.id !== this.self.id && !known.has(p.id))) this.#report.joined()
    })
  }

  /** The in-process services the embedding program registered. */
  setHandlers (now: number, names: readonly string[]): ServiceEffect[] {
    return this.#run(now, () => { this.#handlers = [...names].sort(); this.#report.changed() })
  }

  /** Load besides the instances here (busy task slots, CPU per core), for the next state report: noting it sends nothing. */
  noteLoad (load: number): void {
    this.#otherLoad = Number.isFinite(load) && load > 0 ? Math.round(load * 100) / 100 : 0
  }

  receive (now: number, from: MemberId, msg: ServiceMessage): ServiceEffect[] {
    return this.#run(now, () => { this.#receive(now, from, msg) })
  }

  instanceStarted (now: number, instance: string, pid: number | null): ServiceEffect[] {
    return this.#run(now, () => {
      const local = this.#local.byInstance(instance)
      if (local == null || local.state !== 'starting') return
      this.#local.setState(local, 'running', this.#wallTime(now), pid)
      this.#event('service:started', local, { from: local.previousHolder })
      this.#report.changed()
    })
  }

  /** An instance ended (exited, killed, failed to spawn). */
  instanceExited (now: number, instance: string, detail: string): ServiceEffect[] {
    return this.#run(now, () => { this.#exited(now, instance, detail) })
  }

  /** An instance failed its health check failuresBeforeRestart times in a row: restart it. */
  instanceUnhealthy (now: number, instance: string, detail: string): ServiceEffect[] {
    return this.#run(now, () => {
      const local = this.#local.byInstance(instance)
      if (local == null || local.state !== 'running') return
      this.#stop(now, local, `health check failed: ${detail}`, true)
    })
  }

  /** Graceful leave: stop every instance here and let the leases go. */
  leave (now: number): ServiceEffect[] {
    return this.#run(now, () => {
      this.#leaving = true
      for (const local of this.#local.all()) this.#stop(now, local, 'the member is leaving')
    })
  }

  tick (now: number): ServiceEffect[] {
    return this.#run(now, () => { this.#leases.tick(now) })
  }

  nextDeadline (): number {
    const idle = this.#registry.size === 0 && this.#local.size === 0
    const own = idle ? Infinity : Math.min(this.#lastReconcile + this.config.reconcileMs, this.#report.nextAt())
    return Math.min(own, this.#leases.nextDeadline())
  }

  view (): ServiceView[] {
    const { peers, reports } = this.#cluster
    const eligibility = (definition: ServiceDefinition, member: MemberId): string | undefined => this.#ineligibility(definition, member)
    return servicesView({ definitions: this.#registry.definitions(), entry: name => this.#registry.get(name), self: this.self, selfState: this.#state(), peers: [...peers.values()], reports, eligibility })
  }

  persisted (): PersistedServices {
    return { entries: this.#registry.entries(), epochs: this.#leases.granter.epochs(), voters: this.#cluster.voterIds() }
  }

  stats (): ServicesStats {
    return { ...this.#stats, ...this.#leases.stats, registryExchanges: this.#sync.exchanges }
  }

  /** One input: apply it, bring placement up to date, flush the state report (report-schedule.ts says when). */
  #run (now: number, apply: () => void): ServiceEffect[] {
    this.#out = []
    const digestBefore = this.#registry.digest()
    const epochs = (): string => JSON.stringify(this.#leases.granter.epochs())
    const voters = (): string => this.#cluster.voterIds().join()
    const epochsBefore = epochs()
    const votersBefore = voters()
    apply()
    this.#reconcile(now)
    const changed = this.#registry.digest() !== digestBefore || epochs() !== epochsBefore
    if (changed || voters() !== votersBefore) this.#out.push({ kind: 'persist', state: this.persisted() })
    if (changed) this.#report.changed()
    if (this.#report.due(now, this.#registry.size > 0 || this.#local.size > 0)) {
      this.#out.push({ kind: 'publish', msg: { type: 'service-state', ...this.#state(true) } })
    }
    return this.#out
  }

  /** This member's state as reported; `seq` grows only with what is published. */
  #state (published = false): MemberServiceState {
    const instances = this.#local.reports()
    if (published) this.#seq++
    return {
      seq: this.#seq,
      digest: this.#registry.digest(),
      exec: this.#exec,
      handlers: this.#handlers,
      blocked: this.#local.blocked(),
      load: instances.length + this.#otherLoad,
      instances
    }
  }

  #announce (entry: RegistryEntry): void {
    this.#out.push({ kind: 'publish', msg: { type: 'service-defs', entries: [entry], reply: false } })
  }

  #receive (now: number, from: MemberId, msg: ServiceMessage): void {
    switch (msg.type) {
      case 'service-state': {
        if (!this.#cluster.take(from, msg)) return
        for (const i of msg.instances) this.#leases.granter.observe(i.service, i.epoch, from)
        const entries = this.#sync.digestHeard(now, from, msg.digest)
        if (entries != null) this.#out.push({ kind: 'send', to: from, msg: entries })
        return
      }
      case 'service-defs': {
        const answer = this.#sync.entriesHeard(msg.entries, msg.reply)
        if (answer != null) this.#out.push({ kind: 'send', to: from, msg: answer })
        return
      }
      case 'service-lease': this.#leases.request(now, from, msg); return
      case 'service-lease-reply': this.#leases.answer(now, from, msg); return
      case 'service-release':
        this.#leases.granter.release(from, msg.service, msg.epoch)
    }
  }

  // --- placement ------------------------------------------------------------

  #self (): SelfSnapshot {
    return { id: this.self.id, tags: this.self.tags, state: this.#state() }
  }

  #ineligibility (definition: ServiceDefinition, member: MemberId): string | undefined {
    return this.#cluster.ineligibility(definition, member, this.#self())
  }

  #reconcile (now: number): void {
    this.#lastReconcile = now
    if (this.#local.expireBlocks(now)) this.#report.changed()
    for (const local of this.#local.all()) {
      const entry = this.#registry.get(local.service)
      if (entry?.definition == null) this.#stop(now, local, 'the service was removed')
      else if (local.version !== versionKey(entry)) this.#stop(now, local, 'its definition changed') // placement starts it again
    }
    if (this.#leaving) return
    for (const definition of this.#registry.definitions()) {
      if (definition.mode === 'singleton') this.#reconcileSingleton(now, definition)
      else this.#reconcileReplicated(now, definition)
    }
  }

  #reconcileReplicated (now: number, definition: ServiceDefinition): void {
    const claim = this.#leases.claim(definition.name) // it was a singleton before its last update
    if (claim != null) this.#leases.drop(claim)
    const local = this.#local.get(definition.name)
    const chosen = place(definition, this.#cluster.candidates(definition, this.#self())).includes(this.self.id)
    if (local == null && chosen) {
      this.#start(now, definition, this.#nextEpoch(definition.name), null)
    } else if (local != null && !chosen && local.state !== 'stopping') {
      this.#stop(now, local, this.#ineligibility(definition, this.self.id) ?? 'placed elsewhere')
    } else if (local?.state === 'failed' && now >= (local.restartAt ?? Infinity)) {
      this.#start(now, definition, this.#nextEpoch(definition.name), null, undefined, local)
    }
  }

  #reconcileSingleton (now: number, definition: ServiceDefinition): void {
    const name = definition.name
    const local = this.#local.get(name)
    const claim = this.#leases.claim(name)
    const unfit = this.#ineligibility(definition, this.self.id) ?? (this.#cluster.health.side === 'minority' ? 'this member is on the minority side of a partition' : undefined)
    if (local != null) {
      if (local.state === 'stopping') return
      const lapsing = claim == null || claim.until - now < this.config.leaseMs / 2
      if (unfit != null || (lapsing && local.state !== 'failed')) {
        this.#stop(now, local, unfit ?? 'the lease could not be renewed (no majority answered)')
      } else if (local.state === 'failed' && now >= (local.restartAt ?? Infinity) && claim != null && claim.epoch <= local.epoch) {
        // the restart needs the lease at a new epoch: ask once here, then the renewal rounds go on at it
        claim.bump(Math.max(claim.epoch, this.#leases.granter.maxEpoch(name), claim.refusedAt) + 1)
        this.#leases.round(now, claim)
      }
      return
    }
    const holders = this.#cluster.holders(name)
    if (unfit != null || holders.length > 0) {
      if (claim != null) this.#leases.drop(claim)
      return
    }
    const first = place(definition, this.#cluster.candidates(definition, this.#self()))[0] === this.self.id
    if (claim != null) {
      // Asking (rounds go on tick) while this member is still the one placement names
      // and the others did not refuse it: two members asking at once each give way.
      if (!first || claim.lost) this.#leases.giveWay(now, claim)
      return
    }
    if (!first || !this.#leases.mayAsk(now, name)) return
    this.#leases.open(now, name, this.#nextEpoch(name))
  }

  /** Above every epoch of `service` this member granted, heard of, or saw reported. */
  #nextEpoch (service: string): number {
    return Math.max(this.#leases.granter.maxEpoch(service), this.#cluster.reports.maxEpoch(service)) + 1
  }

  // --- the lease ------------------------------------------------------------

  /** A majority granted the claim's round: run the instance, or move its deadline. */
  #granted (now: number, claim: LeaseClaim): void {
    if (claim.until <= now) return // granted too late: the lease is already over
    const local = this.#local.get(claim.service)
    const definition = this.#registry.get(claim.service)?.definition
    if (local == null) {
      if (definition == null || this.#leaving) return
      const previous = this.#cluster.lastHolder(claim.service) ?? claim.refusedBy
      this.#start(now, definition, claim.epoch, claim.until, previous)
    } else if (local.state === 'failed' && local.epoch < claim.epoch) {
      this.#start(now, definition ?? local.definition, claim.epoch, claim.until, undefined, local)
    } else if (local.epoch === claim.epoch) {
      this.#out.push({ kind: 'extend', instance: local.instance, until: claim.until })
    }
  }

  // --- instances here -------------------------------------------------------

  /** Starts an instance here at `epoch`; `failed`: the one it restarts (its failure count goes on). */
  #start (now: number, definition: ServiceDefinition, epoch: number, until: number | null, previousHolder?: MemberId, failed?: LocalInstance): void {
    if (failed != null) {
      this.#local.delete(failed)
      this.#stats.restarts++
    } else {
      this.#stats.starts++
    }
    const local = this.#local.add(definition, versionKey(this.#registry.get(definition.name)), epoch, this.#wallTime(now), previousHolder, failed?.restarts, failed?.failures)
    this.#leases.granter.observe(definition.name, epoch, this.self.id)
    this.#report.changed()
    this.#out.push({ kind: 'start', service: definition.name, instance: local.instance, epoch, definition, until })
  }

  /** Stops an instance; `thenRestart`: its end counts as a failure (restart, or give up). */
  #stop (now: number, local: LocalInstance, reason: string, thenRestart = false): void {
    if (local.state === 'failed') {
      // nothing runs: end it at once
      this.#local.delete(local)
      this.#ended(local, reason)
      return
    }
    if (local.state === 'stopping') return
    local.stopReason = reason
    local.restartAfterStop = thenRestart
    this.#local.setState(local, 'stopping', this.#wallTime(now))
    this.#report.changed()
    this.#out.push({ kind: 'stop', instance: local.instance, reason })
  }

  #exited (now: number, instance: string, detail: string): void {
    const local = this.#local.byInstance(instance)
    if (local == null) return
    this.#report.changed()
    const claim = this.#leases.claim(local.service)
    const leaseLapsed = local.definition.mode === 'singleton' && (claim == null || claim.until <= now)
    if ((local.state === 'stopping' && !local.restartAfterStop) || leaseLapsed || this.#leaving) {
      this.#local.delete(local)
      this.#ended(local, local.stopReason ?? (leaseLapsed ? 'the lease ran out' : detail))
      return
    }
    const failure = local.stopReason ?? detail
    const outcome = this.#local.failed(local, now, this.#wallTime(now))
    if (outcome === 'give-up') {
      this.#stats.givenUp++
      this.#local.delete(local)
      this.#event('service:failed', local, { reason: `${failure}; gave up here after ${this.config.maxRestartsBeforeMove} failures, moving` })
      this.#ended(local, undefined)
      return
    }
    this.#event('service:failed', local, { reason: `${failure}; restarting` })
  }

  /** An instance is gone for good here: release a singleton's lease so another member can take it at once. */
  #ended (local: LocalInstance, reason: string | undefined): void {
    if (reason != null) this.#event('service:stopped', local, { reason })
    const claim = this.#leases.claim(local.service)
    if (claim != null) this.#leases.drop(claim)
  }

  #event (type: 'service:started' | 'service:stopped' | 'service:failed', local: LocalInstance, extra: { reason?: string, from?: MemberId }): void {
    this.#out.push({ kind: 'event', type, service: local.service, instance: local.instance, epoch: local.epoch, ...extra })
    if (type === 'service:started' && extra.from != null && extra.from !== this.self.id) {
      this.#out.push({ kind: 'event', type: 'service:moved', service: local.service, instance: local.instance, epoch: local.epoch, from: extra.from })
    }
  }
}
