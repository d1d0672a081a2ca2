/**
 * The agent: one libp2p node, the SWIM transport and the membership core,
 * driven by a real clock. This is the only place where the pure core meets
 * time and the network.
 */
import { CoreDriver, createMembership, fromPartial, seededRandom, swimInputs, type Effect, type Member, type Membership, type MembershipConfig, type MembershipStats } from '../membership/index.ts'
import { createNode, createSwimTransport, newInboundStats, withTimeout, type ClusterNode, type InboundStats, type SwimTransport, type SwimTransportStats } from '../gossip/index.ts'
import { announceable, toDestination } from './addresses.ts'
import { resolveOptions, type AgentOptions, type ResolvedAgentOptions } from './config.ts'
import { loadOrCreateKey, randomBootId } from './identity.ts'
import {
  toClusterEventView, toHealthView, toMemberView,
  type ClusterEventName, type ClusterEventView, type HealthView, type MemberEventName, type MemberView
} from './member-view.ts'
import { startControlApi, type ControlApi } from './control-api.ts'
import { WorkDriver, type JobHandle, type WorkloadsApi, type WorkStats } from './work.ts'
import type { JobOptions, JobView } from '../workloads/index.ts'
import { setUpSecurity, type AgentSecurity, type SecurityStats } from './security.ts'
import { clock, realTimers } from './real-timers.ts'
import { explainListenError } from './start-errors.ts'
import { MemberSignals } from './member-signals.ts'
import { retireFailed } from './force-leave.ts'
import { acceptingFrom } from './accept-from.ts'
import { AgentLog } from './log.ts'
import { textSink } from './log-sinks.ts'
import { logAgentEvents, logPathChange } from './event-log.ts'
import type { HandlerStats } from './event-handlers.ts'
import { Operator, type QueriesApi, type UserEventView } from './operator.ts'
import { snapshotSeeds, SnapshotWriter } from './member-snapshot.ts'
import { JoinProgress, type JoinEventName, type JoinEventView } from './join-progress.ts'
import type { JobEventName } from './job-events.ts'
import { ServicesDriver, type ServiceEventView, type ServicesApi } from './services.ts'
import type { ServiceEventType, ServicesStats } from '../services/index.ts'

export type AgentEventType = MemberEventName | ClusterEventName | JoinEventName | JobEventName | ServiceEventType | 'user:event'

/**
 * `member:*` events carry the member as it is after the change; for one member,
 * they arrive in the order of its transitions. `partition:detected` and
 * `partition:healed` carry this node's side and the partition group.
 */
export type AgentEventMap =
  { [K in MemberEventName]: CustomEvent<MemberView> } &
  { [K in ClusterEventName]: CustomEvent<ClusterEventView> } &
  { [K in JoinEventName]: CustomEvent<Extract<JoinEventView, { type: K }>> } &
  { [K in JobEventName]: CustomEvent<JobView> } &
  { [K in ServiceEventType]: CustomEvent<ServiceEventView> } &
  { 'user:event': CustomEvent<UserEventView> }

/** What a listener of event `K` receives. */
export type AgentEventPayload<K extends AgentEventType> = AgentEventMap[K]['detail']

export interface AgentStats {
  membership: MembershipStats
  transport: SwimTransportStats
  work: WorkStats
  services: ServicesStats
  /** --event-handler runs: ran, failed, timed out, coalesced, queued now. */
  handlers: HandlerStats
  /** The user events' Lamport time. */
  userEvents: { ltime: number }
  security: SecurityStats
  /** Inbound connections that never became libp2p connections, and WebSocket connections closed by the guard (gossip/inbound-guard.ts). */
  inbound: InboundStats
}

export class AgentNotStartedError extends Error {
  override name = 'AgentNotStartedError'
}

/** How long `leave()` lets the goodbye messages drain before closing connections. */
const LEAVE_DRAIN_MS = 250

/** How long stopping waits for libp2p before giving up on it (see #shutdown). */
const LIBP2P_STOP_TIMEOUT_MS = 2000

export class Agent extends EventTarget {
  readonly options: ResolvedAgentOptions
  readonly membershipConfig: MembershipConfig
  /** Records of every event and warning (log.ts): to options.log's sink, and to subscribers such as `agent monitor`. */
  readonly log: AgentLog
  readonly #warn = (message: string): void => { this.log.warn(message) }
  #libp2p?: ClusterNode
  #transport?: SwimTransport
  #work?: WorkDriver
  #services?: ServicesDriver
  /** User events, queries, event-handler scripts (operator.ts). */
  #operator?: Operator
  #core?: Membership
  #api?: ControlApi
  #security?: AgentSecurity
  readonly #inboundStats: InboundStats = newInboundStats()
  #join = new JoinProgress(false)
  /** The members, kept under --data-dir for a rejoin after a restart. */
  readonly #snapshot: SnapshotWriter
  /** Feeds the membership core its inputs and timer (membership/driver.ts), as the simulator does. */
  #driver?: CoreDriver<Effect>
  /** Stops the transport's path checks (member-signals.ts checkPathsEvery). */
  #stopPathChecks?: () => void
  /** `member:unreachable`, `member:degraded`, and which members' paths to test. */
  readonly #signals = new MemberSignals((type, view) => { this.dispatchEvent(new CustomEvent(type, { detail: view })) })
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new'

  constructor (options: AgentOptions = {}) {
    super()
    this.options = resolveOptions(options)
    this.membershipConfig = fromPartial(this.options.membership, this.options.profile)
    this.log = new AgentLog(this.options.log ?? textSink('warn'))
    this.#snapshot = new SnapshotWriter(this.options.dataDir, this.#warn)
  }

  get peerId (): string {
    return this.#running().libp2p.peerId.toString()
  }

  /** Full listen multiaddrs including `/p2p/<id>`: what another agent passes to `--join`. */
  get multiaddrs (): string[] {
    return this.#running().libp2p.getMultiaddrs().map(String)
  }

  /** The control API's bound address, when enabled. */
  get rpcAddress (): { host: string, port: number } | undefined {
    return this.#api?.address
  }

  get isRunning (): boolean {
    return this.#state === 'running'
  }

  async start (): Promise<void> {
    if (this.#state !== 'new') throw new Error(`agent already ${this.#state}`)
    this.#state = 'starting'
    try {
      const privateKey = await loadOrCreateKey(this.options.dataDir)
      const security = this.#security = await setUpSecurity(this.options, privateKey, this.#warn)
      const libp2p = await createNode({
        privateKey,
        listen: this.options.listen,
        announce: this.options.announce,
        ...this.options.node,
        connectionProtector: security.guard?.protector,
        inboundStats: this.#inboundStats,
        // a dial by peer id (the work transport's) finds the member's addresses here
        addressesOf: id => this.#core?.member(id)?.addrs
      }).catch((err: unknown) => { throw explainListenError(err) ?? err })
      this.#libp2p = libp2p
      security.guard?.attach(libp2p)
      const seed = this.options.randomSeed ?? Math.floor(Math.random() * 2 ** 32)
      this.#work = new WorkDriver({
        libp2p, options: this.options, timers: realTimers(), seed,
        onJobEvent: (type, view) => { this.dispatchEvent(new CustomEvent(type, { detail: view })) },
        onServiceMessage: (from, msg) => { this.#services?.receive(from, msg) },
        onOperatorMessage: (from, msg) => { this.#operator?.receive(from, msg) }
      })
      const core = this.#core = createMembership({
        self: {
          id: libp2p.peerId.toString(), name: this.options.name, addrs: announceable(libp2p.getMultiaddrs()),
          tags: this.options.tags, incarnation: 0, bootId: randomBootId()
        },
        config: this.membershipConfig,
        random: seededRandom(seed),
        now: clock(),
        // Members probe by turns on the wall clock (membership/probe-turns.ts).
        sharedClockNow: Date.now(),
        signer: security.signer
      })
      const driver = this.#driver = new CoreDriver({
        core,
        perform: (effects, now) => { this.#perform(effects, now) },
        timers: realTimers()
      })
      this.#transport = createSwimTransport(libp2p, {
        ...acceptingFrom(swimInputs(driver, core), this.options.acceptFrom),
        onPathChange: (id) => { this.#pathChanged(id) },
        neighbours: () => core.neighbours(),
        neighbourOf: (peer) => core.isNeighbourOf(peer)
      }, this.options.transport)
      await this.#transport.start()
      await this.#work.start()
      for (const member of this.#core.members()) this.#work.memberChanged(member)
      this.#work.membersChanged()
      this.#services = await ServicesDriver.create(this.options, libp2p.peerId.toString(), this.#work, (type, view) => {
        this.dispatchEvent(new CustomEvent(type, { detail: view }))
      }, this.#warn)
      this.#services.membersChanged(core.members(), core.health())
      this.#operator = await Operator.create(this.options, {
        core,
        transport: this.#work.transport,
        on: (type, listener) => this.on(type as AgentEventType, listener),
        memberView: id => { const m = core.member(id); return m == null ? undefined : this.#view(m, clock()) },
        delivered: event => { this.dispatchEvent(new CustomEvent('user:event', { detail: event })) },
        warn: this.#warn
      })
      if (this.options.rpc !== false) {
        this.#api = await startControlApi(this, this.options.rpc, security.rpcToken)
      }
      this.#state = 'running'
      this.#stopPathChecks = this.#signals.checkPathsEvery(this.membershipConfig.probeIntervalMs, this.membershipConfig.probeTimeoutMs, core, this.#transport)
      logAgentEvents(this, this.log)
      const self = libp2p.peerId.toString()
      const seeds = [...this.options.join.map(toDestination), ...await snapshotSeeds(this.options, self, this.#warn)].filter(s => s.id !== self)
      this.#join = new JoinProgress(seeds.length > 0)
      driver.drive(now => seeds.length > 0 ? core.join(now, seeds) : [])
    } catch (err) {
      await this.#shutdown()
      throw err
    }
  }

  /** Graceful leave: every member is told, then the agent stops. Others show it `left`. */
  async leave (): Promise<void> {
    if (this.#state !== 'running') return
    await this.#services?.leave() // stopped here and their leases given up: others take over at once
    this.#driver?.drive(now => this.#core!.leave(now))
    this.#snapshot.update(this.#core!.members(), true)
    await new Promise(resolve => setTimeout(resolve, LEAVE_DRAIN_MS))
    await this.stop()
  }

  /** Stops without saying goodbye: others will detect the agent as failed. Use leave() for a clean exit. */
  async stop (): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return
    await this.#shutdown()
  }

  /** Every known member, this node included. */
  members (): MemberView[] {
    const core = this.#running().core
    const now = clock()
    return core.members().map(m => this.#view(m, now))
  }

  /** This node's own record. */
  self (): MemberView {
    return toMemberView(this.#running().core.self, clock())
  }

  stats (): AgentStats {
    const { core, transport, work } = this.#running()
    return { membership: core.stats(), transport: transport.stats(), work: work.stats(), services: this.services.stats(), ...this.#operator!.stats(), security: this.#security!.stats(), inbound: { upgradesFailed: { ...this.#inboundStats.upgradesFailed }, webSocket: { ...this.#inboundStats.webSocket } } }
  }

  /** The cluster's services (docs/services.md): define, remove, list, in-process registrations, logs. */
  get services (): ServicesApi {
    this.#running()
    return (this.#services as ServicesDriver).api
  }

  /** Fires a user event: delivered here and to every member (`user:event`, handlers). Throws InvalidUserEventError. */
  userEvent (name: string, payload = '', options: { coalesce?: boolean } = {}): UserEventView {
    this.#running()
    return (this.#operator as Operator).events.fire(name, payload, options.coalesce === true)
  }

  /** Serf's force-leave: the failed members called `name` (or with that peer id) become `left` cluster-wide. Throws ForceLeaveError. */
  forceLeave (name: string): MemberView[] {
    const { core } = this.#running()
    return retireFailed(core, input => { this.#driver?.drive(input) }, name).map(m => this.#view(m, clock()))
  }

  /** Queries across the cluster, and this agent's answers to them. */
  get queries (): QueriesApi {
    this.#running()
    return (this.#operator as Operator).queries
  }

  /** Workloads this node can coordinate and run; `register()` adds one. */
  get workloads (): WorkloadsApi {
    return this.#running().work.workloads
  }

  /**
   * Submits a job coordinated by this node; its tasks spread over the cluster.
   * Throws JobRejectedError (nothing started) on an unknown workload, a bad
   * input or bad options. `await handle.result()` for the ended job.
   */
  submit (workload: string, input: unknown, options: JobOptions = {}): JobHandle {
    return this.#running().work.submit(workload, input, options)
  }

  /**
   * Stops a job, wherever it is coordinated: its workers abort their tasks
   * and it ends `cancelled`. Resolves with the job after the request
   * (see WorkDriver.cancel); undefined if nobody knows the id.
   */
  async cancel (id: string): Promise<JobView | undefined> {
    return await this.#running().work.cancel(id)
  }

  /** A job by id, from this node or any alive member; undefined if nobody knows it. */
  async job (id: string): Promise<JobView | undefined> {
    return await this.#running().work.job(id)
  }

  /** The jobs this node and the alive members know (running ones, and ended ones still remembered). */
  async jobs (): Promise<JobView[]> {
    return await this.#running().work.jobs()
  }

  /**
   * Resolves once this agent is in the cluster: at once when it was given no
   * `join`, else when a seed answers (joins are retried until one does; the
   * `join:failed` events and `health().joinError` say why none has yet).
   */
  async joined (): Promise<void> {
    this.#running()
    await this.#join.joined()
  }

  /** Which side of a partition this node is on, and how many members it sees in each status (itself included). */
  health (): HealthView {
    const core = this.#running().core
    return toHealthView(core.health(), core.members(), this.#join.view())
  }

  /** Subscribe to an event; returns the function that unsubscribes. */
  on<K extends AgentEventType>(type: K, listener: (payload: AgentEventPayload<K>) => void): () => void {
    const wrapped = (event: Event): void => { listener((event as AgentEventMap[K]).detail) }
    this.addEventListener(type, wrapped)
    return () => { this.removeEventListener(type, wrapped) }
  }

  #running (): { libp2p: ClusterNode, core: Membership, transport: SwimTransport, work: WorkDriver } {
    if (this.#libp2p == null || this.#core == null || this.#transport == null || this.#work == null) {
      throw new AgentNotStartedError('the agent is not started')
    }
    return { libp2p: this.#libp2p, core: this.#core, transport: this.#transport, work: this.#work }
  }

  #perform (effects: Effect[], now: number): void {
    let workMembersChanged = false
    if (effects.some(e => e.kind === 'event' || e.kind === 'cluster') && this.#core != null) {
      const members = this.#core.members() // one copy for both
      this.#services?.membersChanged(members, this.#core.health())
      if (this.#core.self.status !== 'left') this.#snapshot.update(members)
    }
    for (const effect of effects) {
      if (effect.kind === 'send') {
        this.#transport?.send(effect.to, effect.msg)
      } else if (effect.kind === 'path-failed') {
        this.#transport?.switchPath(effect.id)
      } else if (effect.kind === 'cluster') {
        this.dispatchEvent(new CustomEvent(effect.event.type, { detail: toClusterEventView(effect.event) }))
      } else if (effect.kind === 'join') {
        const view = this.#join.update(effect.event, id => this.#core?.member(id))
        this.dispatchEvent(new CustomEvent(view.type, { detail: view }))
      } else {
        const member = effect.event.member
        if (this.#work?.memberChanged(member, effect.event.type === 'member:reap') === true) workMembersChanged = true
        const view = this.#view(member, now)
        this.dispatchEvent(new CustomEvent(effect.event.type, { detail: view }))
        if (this.#signals.memberEvent(effect.event.type, member, view)) this.#transport?.forgetPaths(member.id)
      }
    }
    // work claims follow membership: a failed member's leases are released at once
    if (workMembersChanged && this.#state === 'running') this.#work?.membersChanged()
  }

  /** A member's public record with this node's paths to it. */
  #view (member: Member, now: number): MemberView {
    const transport = this.#transport
    const paths = member.id === this.#core?.self.id || transport == null ? [] : transport.paths(member.id, member.addrs)
    return toMemberView(member, now, paths)
  }

  #pathChanged (id: string): void {
    const member = this.#core?.member(id)
    if (member == null || this.#state !== 'running') return
    const view = this.#view(member, clock())
    logPathChange(this.log, view)
    this.#signals.pathsChanged(view)
  }

  async #shutdown (): Promise<void> {
    this.#state = 'stopping'
    this.#driver?.stop()
    this.#stopPathChecks?.()
    this.#join.abandon()
    // Each part is stopped even if another one fails to.
    await this.#api?.close().catch(() => {})
    await this.#services?.stop().catch(() => {})
    this.#operator?.stop()
    await this.#snapshot.flush()
    await this.#work?.stop().catch(() => {})
    await this.#transport?.stop().catch(() => {})
    // Bounded: libp2p's stop() can wait forever. @libp2p/websockets' listener tracks a socket
    // only once its first byte arrives, so close() waits while a silent connection (a port
    // scan) stays open, on Node and Deno alike; past the bound we report `stopped` anyway.
    await withTimeout(Promise.resolve(this.#libp2p?.stop()), LIBP2P_STOP_TIMEOUT_MS).catch(() => {})
    this.#state = 'stopped'
    this.dispatchEvent(new Event('stopped'))
  }
}

/** Creates an agent (not yet started). */
export function createAgent (options: AgentOptions = {}): Agent {
  return new Agent(options)
}
