/**
 * Drives N membership cores over the simulated network: node 0 is the seed,
 * the others join it at random times. Each core runs in the agent's driver
 * loop (membership/driver.ts), ticked at its nextDeadline() on logical time;
 * frozen and crashed nodes take no input and are not ticked.
 *
 * The ground truth of every node (up, crashed, frozen, left) is kept here so
 * that invariant hooks can judge each member event as it is emitted.
 *
 * The same driver runs 10,000 nodes (bench/scale/): ids and addresses can
 * look like the agent's, events need not be kept, and a slow member gets its
 * messages delayed and its timers fired late.
 */
import { fakeSigner } from './fake-signer.ts'
import { CoreDriver, createMembership, fromPartial, seededRandom, sharedViews, signedAlivePayload, swimInputs } from '../../membership/index.ts'
import { ringOrder } from '../../membership/neighbors.ts'
import type {
  ClusterEvent, DriverTimers, Effect, KnownMember, Member, MemberAnnouncement, MemberEvent, MemberId, Membership, MembershipConfig, ProfileName, Random
} from '../../membership/index.ts'
import { SimNetwork, type DelayModel, type SendMeter, type SimTransport } from './network.ts'

export type Truth = 'up' | 'crashed' | 'frozen' | 'left'

export interface SimClusterOptions {
  seed: number
  size: number
  profile?: ProfileName
  config?: Partial<MembershipConfig>
  lossRate?: number
  latencyMs?: { min: number, max: number }
  /** One-way latency from any distribution (latency.ts); overrides latencyMs. */
  latency?: DelayModel
  /** Joins are spread over [0, joinWithinMs). */
  joinWithinMs?: number
  /** Sign and check members' statements with fake-signer.ts, as the agent does with its key (default true). */
  signed?: boolean
  /** Node ids (default SimCluster.nodeId); the name stays `nodeId(i)`. */
  idOf?: (i: number) => MemberId
  /** Listen address of a node (default simAddr). */
  addrOf?: (id: MemberId, i: number) => string
  /** Boot id of a node's `boot`th start (default `<id>-boot-<boot>`). */
  bootIdOf?: (id: MemberId, i: number, boot: number) => string
  /** Keep every member and cluster event in `events` / `clusterEvents` (default true); hooks run either way. */
  recordEvents?: boolean
  /** See NetworkOptions.cloneMessages. */
  cloneMessages?: boolean
  meter?: SendMeter
  /** See NetworkOptions.handshake: connections take this long to set up (default: none needed). */
  handshake?: DelayModel
  /**
   * How far a node's shared clock (the agent's wall clock: MembershipOptions.sharedClockNow)
   * is ahead of the simulated time, in ms; undefined: the node has none (default: 0 for every node).
   */
  clockSkewMs?: (id: MemberId, i: number) => number | undefined
}

export interface SimNode {
  id: MemberId
  core: Membership
  /** The agent's driver loop (membership/driver.ts) on the network's logical time. */
  driver: CoreDriver<Effect>
  transport: SimTransport
  boot: number
  /** A slow member's timers fire this much late (drawn per timer). */
  late?: DelayModel
}

export interface ObservedEvent {
  at: number
  observer: MemberId
  event: MemberEvent
}

export interface ObservedClusterEvent {
  at: number
  observer: MemberId
  event: ClusterEvent
}

export type EventHook = (e: ObservedEvent) => void
export type ClusterEventHook = (e: ObservedClusterEvent) => void

/** Where a simulated agent listens. */
export const simAddr = (id: MemberId): string => `/memory/${id}`

/** Time the agent lets goodbye messages drain before it stops (agent/agent.ts). */
const LEAVE_DRAIN_MS = 250

export class SimCluster {
  readonly net: SimNetwork
  readonly random: Random
  readonly config: MembershipConfig
  readonly nodes = new Map<MemberId, SimNode>()
  readonly truth = new Map<MemberId, Truth>()
  /** Nodes that were ever crashed, frozen or left: only these may be declared failed. */
  readonly faulted = new Set<MemberId>()
  readonly events: ObservedEvent[] = []
  readonly clusterEvents: ObservedClusterEvent[] = []
  readonly #hooks: EventHook[] = []
  readonly #clusterHooks: ClusterEventHook[] = []
  readonly #effectHooks: Array<(node: SimNode, effects: Effect[]) => void> = []
  readonly #bootHooks: Array<(node: SimNode) => void> = []
  readonly #resumeHooks: Array<(node: SimNode) => void> = []
  readonly #opts: SimClusterOptions
  readonly #ids: MemberId[] = []
  readonly #record: boolean
  readonly #shared = sharedViews()

  constructor (opts: SimClusterOptions) {
    this.#opts = opts
    this.random = seededRandom(opts.seed)
    this.config = fromPartial(opts.config ?? {}, opts.profile ?? 'lan')
    this.#record = opts.recordEvents ?? true
    this.net = new SimNetwork({
      random: this.random,
      lossRate: opts.lossRate ?? 0,
      latencyMs: opts.latencyMs,
      latency: opts.latency,
      cloneMessages: opts.cloneMessages,
      meter: opts.meter,
      handshake: opts.handshake
    })
    for (let i = 0; i < opts.size; i++) this.#ids.push(opts.idOf?.(i) ?? SimCluster.nodeId(i))
  }

  get now (): number {
    return this.net.now
  }

  static nodeId (i: number): MemberId {
    return `node-${String(i).padStart(3, '0')}`
  }

  get ids (): MemberId[] {
    return [...this.nodes.keys()]
  }

  /** The id of node `i` (0 is the seed), booted or not. */
  idOf (i: number): MemberId {
    return this.#ids[i]
  }

  /** Creates the nodes: node 0 at once, the others joining node 0 within joinWithinMs. */
  start (): this {
    const spread = this.#opts.joinWithinMs ?? 2000
    for (let i = 0; i < this.#opts.size; i++) {
      const at = i === 0 ? 0 : Math.floor(this.random() * spread)
      this.net.schedule(at, () => { this.#boot(i, i > 0) })
    }
    return this
  }

  /**
   * Creates every node at once, already knowing every other one
   * (MembershipOptions.knownMembers): the cluster as a mass join would leave
   * it once settled, every view full, without simulating the join's N² news.
   */
  startSettled (): this {
    const known: KnownMember[] = []
    for (let i = 0; i < this.#opts.size; i++) known.push(this.#signed(this.#announcement(i, 1)))
    // In ring order, so that each node's ring is built in one pass (neighbors.ts addAll).
    known.sort((a, b) => ringOrder(a.id, b.id))
    for (let i = 0; i < this.#opts.size; i++) this.#boot(i, false, known)
    return this
  }

  onEvent (hook: EventHook): void {
    this.#hooks.push(hook)
  }

  onClusterEvent (hook: ClusterEventHook): void {
    this.#clusterHooks.push(hook)
  }

  /** Called after a node performed one input's effects (the work layer follows member events here). */
  onEffects (hook: (node: SimNode, effects: Effect[]) => void): void {
    this.#effectHooks.push(hook)
  }

  /** Called when a node (re)starts, before it joins. */
  onBoot (hook: (node: SimNode) => void): void {
    this.#bootHooks.push(hook)
  }

  /** Called when a frozen node resumes, after its membership core's overdue tick. */
  onResume (hook: (node: SimNode) => void): void {
    this.#resumeHooks.push(hook)
  }

  /**
   * A slow member (an overloaded host): every message to or from it takes an
   * extra `delay`, and each of its timers fires late by a draw of `late`.
   */
  slow (id: MemberId, delay: DelayModel, late: DelayModel = delay): void {
    this.net.setSlow(id, delay)
    const node = this.nodes.get(id)
    if (node != null) node.late = late
  }

  /** Node `i`'s announcement of its `boot`th start. */
  #announcement (i: number, boot: number): MemberAnnouncement {
    const id = this.#ids[i]
    const addr = this.#opts.addrOf?.(id, i) ?? simAddr(id)
    return { id, name: SimCluster.nodeId(i), addrs: [addr], tags: {}, incarnation: 0, bootId: this.#opts.bootIdOf?.(id, i, boot) ?? `${id}-boot-${boot}` }
  }

  /** `a` with its member's signature of it, when the cluster signs (as a join's sync would carry it). */
  #signed (a: MemberAnnouncement): KnownMember {
    return this.#opts.signed === false ? a : { ...a, signature: fakeSigner(a.id).sign(signedAlivePayload(a)) }
  }

  /** Starts (or restarts, with a new boot id) agent number `i`, joining node 0 if `join`; knowing `known` from the start if given. */
  #boot (i: number, join: boolean, known?: KnownMember[]): void {
    const id = this.#ids[i]
    const previous = this.nodes.get(id)
    previous?.driver.stop()
    const boot = (previous?.boot ?? 0) + 1
    const self = this.#announcement(i, boot)
    const addr = self.addrs[0]
    const core = createMembership({
      self,
      config: this.config,
      random: seededRandom(Math.floor(this.random() * 2 ** 32)),
      now: this.now,
      sharedClockNow: this.#sharedClockNow(id, i),
      // Every claim signed and checked, as in the agent (a fake, fast scheme).
      signer: this.#opts.signed === false ? undefined : fakeSigner(id),
      knownMembers: known,
      // What every view holds alike, held once for all of them (membership/shared-views.ts).
      sharedViews: this.#shared
    })
    const node = { id, core, boot, late: previous?.late } as SimNode
    node.driver = new CoreDriver({
      core,
      perform: effects => { this.#perform(node, effects) },
      timers: this.timersOf(node),
      accepting: () => this.net.state(id) === 'up'
    })
    node.transport = this.net.attach(id, [addr], swimInputs(node.driver, core))
    this.nodes.set(id, node)
    this.truth.set(id, 'up')
    for (const hook of this.#bootHooks) hook(node)
    const seed = this.#ids[0]
    const seedAddr = this.#opts.addrOf?.(seed, 0) ?? simAddr(seed)
    node.driver.drive(now => join && id !== seed ? core.join(now, [{ addrs: [seedAddr] }]) : [])
  }

  /** What node `i`'s shared clock reads now (see clockSkewMs). */
  #sharedClockNow (id: MemberId, i: number): number | undefined {
    const skew = this.#opts.clockSkewMs == null ? 0 : this.#opts.clockSkewMs(id, i)
    return skew == null ? undefined : this.now + skew
  }

  /** Timers of a node's cores on the network's clock; a slow member's fire late. */
  timersOf (node: SimNode): DriverTimers {
    return {
      now: () => this.now,
      at: (at, fire) => {
        let armed = true
        this.net.schedule(at + (node.late?.(this.random) ?? 0), () => { if (armed) fire() })
        return () => { armed = false }
      }
    }
  }

  /** What the agent's `perform` does with a core's effects, with the events observed. */
  #perform (node: SimNode, effects: Effect[]): void {
    for (const effect of effects) {
      if (effect.kind === 'send') {
        node.transport.send(effect.to, effect.msg)
      } else if (effect.kind === 'cluster') {
        const observed = { at: this.now, observer: node.id, event: effect.event }
        if (this.#record) this.clusterEvents.push(observed)
        for (const hook of this.#clusterHooks) hook(observed)
      } else if (effect.kind === 'path-failed') {
        // the simulated network has one path per pair of nodes: nothing to switch
      } else if (effect.kind === 'join') {
        // join progress is the agent's to print; the simulation checks the views it leads to
      } else {
        const observed = { at: this.now, observer: node.id, event: effect.event }
        if (this.#record) this.events.push(observed)
        for (const hook of this.#hooks) hook(observed)
      }
    }
    for (const hook of this.#effectHooks) hook(node, effects)
  }

  /** Feeds one input to a running node through its driver. */
  #drive (id: MemberId, input: (core: Membership, now: number) => Effect[]): void {
    const node = this.nodes.get(id)
    node?.driver.drive(now => input(node.core, now))
  }

  runFor (ms: number): void {
    this.net.runUntil(this.now + ms)
  }

  /** Runs until `pred` holds (checked every `everyMs`). Returns the time it took, or undefined. */
  runUntil (pred: () => boolean, maxMs: number, everyMs = 50): number | undefined {
    const start = this.now
    const end = start + maxMs
    while (!pred()) {
      if (this.now >= end) return undefined
      this.net.runUntil(Math.min(end, this.now + everyMs))
    }
    return this.now - start
  }

  core (id: MemberId): Membership {
    const node = this.nodes.get(id)
    if (node == null) throw new Error(`no node ${id}`)
    return node.core
  }

  /** Nodes running normally. */
  upIds (): MemberId[] {
    return this.ids.filter(id => this.truth.get(id) === 'up')
  }

  view (observer: MemberId, about: MemberId): Member | undefined {
    return this.core(observer).member(about)
  }

  /** True when every up node (but `about`) sees `about` with one of `statuses`. */
  allSee (about: MemberId, ...statuses: string[]): boolean {
    return this.upIds().every(id => id === about || statuses.includes(this.view(id, about)?.status ?? 'unknown'))
  }

  /** True when every up node sees every up node alive. */
  converged (): boolean {
    const up = this.upIds()
    return up.every(o => up.every(a => this.view(o, a)?.status === 'alive'))
  }

  /** kill -9 (`refuse`: the host answers, connections are refused) or host down (silence). */
  crash (id: MemberId, opts: { refuse: boolean }): void {
    this.truth.set(id, 'crashed')
    this.faulted.add(id)
    this.net.crash(id, opts)
  }

  freeze (id: MemberId): void {
    this.truth.set(id, 'frozen')
    this.faulted.add(id)
    this.net.freeze(id)
  }

  /** SIGCONT: the overdue tick runs first (as Node's timers phase does), then the held messages. */
  resume (id: MemberId): void {
    const node = this.nodes.get(id)
    if (node == null) return
    this.truth.set(id, 'up')
    node.driver.disarm()
    // The held messages are queued for now; the overdue tick runs before them.
    this.net.resume(id)
    this.#drive(id, (core, now) => core.tick(now))
    for (const hook of this.#resumeHooks) hook(node)
  }

  /** Graceful leave; the process stops LEAVE_DRAIN_MS later. */
  leave (id: MemberId): void {
    this.truth.set(id, 'left')
    this.faulted.add(id)
    this.#drive(id, (core, now) => core.leave(now))
    this.net.schedule(this.now + LEAVE_DRAIN_MS, () => { this.net.crash(id, { refuse: true }) })
  }

  /** An operator's force-leave of `id`, run on `observer`. */
  forceLeave (observer: MemberId, id: MemberId): void {
    this.#drive(observer, (core, now) => core.forceLeave(now, id))
  }

  /** The agent changes its tags (or addresses): a new incarnation, gossiped. */
  update (id: MemberId, change: { tags?: Record<string, string>, addrs?: string[] }): void {
    this.#drive(id, (core, now) => core.update(now, change))
  }

  /** Restarts a crashed node with a new boot id (incarnation 0); it joins node 0 again. */
  restart (id: MemberId): void {
    this.#boot(this.#ids.indexOf(id), true)
  }
}
