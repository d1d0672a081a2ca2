/**
 * Drives N membership cores over the simulated network: node 0 is the seed,
 * the others join it at random times. Each core is ticked exactly at its
 * nextDeadline(); frozen and crashed nodes are not ticked.
 *
 * The ground truth of every node (up, crashed, frozen, left) is kept here so
 * that invariant hooks can judge each member event as it is emitted.
 */
import { fakeClaims } from './fake-claims.ts'
import { createMembership, fromPartial, seededRandom } from '../../membership/index.ts'
import type {
  ClusterEvent, Effect, Member, MemberEvent, MemberId, Membership, MembershipConfig, ProfileName, Random
} from '../../membership/index.ts'
import { SimNetwork, type SimTransport } from './network.ts'

export type Truth = 'up' | 'crashed' | 'frozen' | 'left'

export interface SimClusterOptions {
  seed: number
  size: number
  profile?: ProfileName
  config?: Partial<MembershipConfig>
  lossRate?: number
  latencyMs?: { min: number, max: number }
  /** Joins are spread over [0, joinWithinMs). */
  joinWithinMs?: number
}

export interface SimNode {
  id: MemberId
  core: Membership
  transport: SimTransport
  boot: number
  tickAt: number
  tickVersion: number
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
  readonly #opts: SimClusterOptions

  constructor (opts: SimClusterOptions) {
    this.#opts = opts
    this.random = seededRandom(opts.seed)
    this.config = fromPartial(opts.config ?? {}, opts.profile ?? 'lan')
    this.net = new SimNetwork({ random: this.random, lossRate: opts.lossRate ?? 0, latencyMs: opts.latencyMs })
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

  /** Creates the nodes: node 0 at once, the others joining node 0 within joinWithinMs. */
  start (): this {
    const spread = this.#opts.joinWithinMs ?? 2000
    for (let i = 0; i < this.#opts.size; i++) {
      const id = SimCluster.nodeId(i)
      const at = i === 0 ? 0 : Math.floor(this.random() * spread)
      this.net.schedule(at, () => { this.#boot(id, i > 0) })
    }
    return this
  }

  onEvent (hook: EventHook): void {
    this.#hooks.push(hook)
  }

  /** Starts (or restarts, with a new boot id) the agent `id`, joining node 0 if `join`. */
  #boot (id: MemberId, join: boolean): void {
    const previous = this.nodes.get(id)
    const boot = (previous?.boot ?? 0) + 1
    const transport = this.net.attach(id, [simAddr(id)], {
      onMessage: (from, msg) => { this.#drive(id, (core, now) => core.receive(now, from, msg)) },
      onDeliveryFailed: (to, msg, reason) => { this.#drive(id, (core, now) => core.deliveryFailed(now, to, msg, reason)) },
      onPeerDisconnected: (peer) => { this.#drive(id, (core, now) => core.peerDisconnected(now, peer)) }
    })
    const core = createMembership({
      self: { id, name: id, addrs: [simAddr(id)], tags: {}, incarnation: 0, bootId: `${id}-boot-${boot}` },
      config: this.config,
      random: seededRandom(Math.floor(this.random() * 2 ** 32)),
      now: this.now,
      // Every claim signed and checked, as in the agent (a fake, fast scheme).
      claims: fakeClaims(id)
    })
    this.nodes.set(id, { id, core, transport, boot, tickAt: Infinity, tickVersion: 0 })
    this.truth.set(id, 'up')
    const seed = SimCluster.nodeId(0)
    this.#drive(id, (c, now) => join && id !== seed ? c.join(now, [{ addrs: [simAddr(seed)] }]) : [])
  }

  /** Feeds one input to a running node, performs its effects, re-arms its tick. */
  #drive (id: MemberId, input: (core: Membership, now: number) => Effect[]): void {
    const node = this.nodes.get(id)
    if (node == null || this.net.state(id) !== 'up') return
    const effects = input(node.core, this.now)
    for (const effect of effects) {
      if (effect.kind === 'send') {
        node.transport.send(effect.to, effect.msg)
      } else if (effect.kind === 'cluster') {
        this.clusterEvents.push({ at: this.now, observer: id, event: effect.event })
      } else if (effect.kind === 'path-failed') {
        // the simulated network has one path per pair of nodes: nothing to switch
      } else {
        const observed = { at: this.now, observer: id, event: effect.event }
        this.events.push(observed)
        for (const hook of this.#hooks) hook(observed)
      }
    }
    this.#arm(node)
  }

  #arm (node: SimNode): void {
    const d = node.core.nextDeadline()
    if (!Number.isFinite(d) || d >= node.tickAt) return
    node.tickAt = Math.max(d, this.now)
    const version = ++node.tickVersion
    this.net.schedule(node.tickAt, () => {
      if (node.tickVersion !== version || this.nodes.get(node.id) !== node) return
      node.tickAt = Infinity
      this.#drive(node.id, (core, now) => core.tick(now))
    })
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
    node.tickAt = Infinity
    node.tickVersion++
    // The held messages are queued for now; the overdue tick runs before them.
    this.net.resume(id)
    this.#drive(id, (core, now) => core.tick(now))
  }

  /** Graceful leave; the process stops LEAVE_DRAIN_MS later. */
  leave (id: MemberId): void {
    this.truth.set(id, 'left')
    this.faulted.add(id)
    this.#drive(id, (core, now) => core.leave(now))
    this.net.schedule(this.now + LEAVE_DRAIN_MS, () => { this.net.crash(id, { refuse: true }) })
  }

  /** Restarts a crashed node with a new boot id (incarnation 0); it joins node 0 again. */
  restart (id: MemberId): void {
    this.#boot(id, true)
  }
}
