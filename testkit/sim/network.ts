/**
 * A deterministic in-memory network for the membership simulator.
 *
 * It implements the SWIM port (membership/ports.ts) that the libp2p transport
 * (gossip/) implements: a node sends with `send(to: Destination, msg)` and is
 * called back with `onMessage(from, msg)`, `onDeliveryFailed(to, msg, reason)`
 * and `onPeerDisconnected(id)`. Work messages (workloads/ports.ts) go over the
 * same links with `carry`.
 *
 * Time is logical: an event queue ordered by (time, insertion). Every random
 * choice (latency, loss) comes from one seeded generator, so a seed replays a
 * run exactly. Faults are commands: per-link loss, (one-way) partitions,
 * crash (with or without "connection refused"), freeze and resume, slow
 * members (every message to or from them delayed).
 *
 * Built to run 10,000 nodes: partitions are kept as groups (not one entry per
 * link), connections per node, and message copies can be turned off.
 *
 * With `handshake`, a send to a node it holds no connection with first waits
 * for one, as the libp2p transport's dial does: a ping is reported to
 * onConnecting, then to onSentAfterConnecting or (a destination that cannot
 * answer, after connectTimeoutMs) onDeliveryFailed.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { EventQueue } from './event-queue.ts'
import type { Destination, MemberId, Message, Random } from '../../membership/index.ts'
import type { DelayModel, NetworkOptions, NetworkStats, NodeState, SendMeter, SimTransport, TransportHandlers } from './network-types.ts'

export type { DelayModel, NetworkOptions, NetworkStats, NodeState, SendMeter, SimTransport, TransportHandlers } from './network-types.ts'

interface SimEndpoint {
  id: MemberId
  addrs: string[]
  handlers: TransportHandlers
  state: NodeState
  refuse: boolean
  held: Array<() => void>
  /** Extra delay of every message to or from this node (a slow member); none when undefined. */
  slow?: DelayModel
}

/** Whether `addr` parses as a multiaddr (a malformed one is an error, not a refusal). */
function isMultiaddr (addr: unknown): boolean {
  try {
    multiaddr(addr as string)
    return true
  } catch {
    return false
  }
}

/** TCP's initial SYN retransmission timeout: how much later a refusal arrives when the first SYN is lost. */
const SYN_RETRY_MS = 1000

const linkKey = (from: MemberId, to: MemberId): string => `${from}>${to}`

/** Messages from `a` to `b` are dropped (and from `b` to `a` unless `oneWay`). */
interface Cut {
  a: ReadonlySet<MemberId>
  b: ReadonlySet<MemberId>
  oneWay: boolean
}

/** A connection being set up from one node to another, and the sends waiting for it. */
interface Handshake {
  waiting: Array<{ to: Destination, msg: Message }>
}

export class SimNetwork {
  now = 0
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, refused: 0, held: 0 }
  lossRate: number
  readonly #random: Random
  readonly #latency: { min: number, max: number }
  readonly #latencyModel: DelayModel | undefined
  readonly #clone: boolean
  readonly #meter: SendMeter | undefined
  readonly #handshake: DelayModel | undefined
  readonly #connectTimeoutMs: number
  /** Connections being set up, by linkKey. */
  readonly #handshakes = new Map<string, Handshake>()
  readonly #queue = new EventQueue()
  readonly #nodes = new Map<MemberId, SimEndpoint>()
  readonly #byAddr = new Map<string, MemberId>()
  /** Per node, the peers it holds a connection with (both directions recorded). */
  readonly #connections = new Map<MemberId, Set<MemberId>>()
  #cuts: Cut[] = []
  readonly #linkLoss = new Map<string, number>()
  /** Extra one-way delay per link (ms), on top of the latency. */
  readonly #linkDelay = new Map<string, number>()
  /** Per link, when its last message lands (#inOrder). */
  readonly #lastArrival = new Map<string, number>()

  constructor (opts: NetworkOptions) {
    this.#random = opts.random
    this.#latency = opts.latencyMs ?? { min: 1, max: 10 }
    this.#latencyModel = opts.latency
    this.#clone = opts.cloneMessages ?? true
    this.#meter = opts.meter
    this.#handshake = opts.handshake
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 10_000
    this.lossRate = opts.lossRate ?? 0
  }

  /** Adds (or restarts) a node and returns its transport. */
  attach (id: MemberId, addrs: string[], handlers: TransportHandlers): SimTransport {
    this.#nodes.set(id, { id, addrs: [...addrs], handlers, state: 'up', refuse: false, held: [] })
    for (const addr of addrs) this.#byAddr.set(addr, id)
    return { send: (to, msg) => { this.send(id, to, msg) } }
  }

  state (id: MemberId): NodeState | undefined {
    return this.#nodes.get(id)?.state
  }

  schedule (at: number, run: () => void): void {
    this.#queue.push(Math.max(at, this.now), run)
  }

  /** Runs every event due at or before `t`, then sets the clock to `t`. */
  runUntil (t: number): void {
    for (;;) {
      const next = this.#queue.peek()
      if (next == null || next.at > t) break
      this.#queue.pop()
      this.now = next.at
      next.run()
    }
    this.now = Math.max(this.now, t)
  }

  latency (): number {
    if (this.#latencyModel != null) return this.#latencyModel(this.#random)
    const { min, max } = this.#latency
    return min + this.#random() * (max - min)
  }

  /** Pending events (messages in flight and armed timers). */
  get pending (): number {
    return this.#queue.size
  }

  send (from: MemberId, to: Destination, msg: Message): void {
    this.stats.sent++
    // As the libp2p transport does: anything but a destination, or this node itself, fails with 'error'.
    const valid = to != null && typeof to === 'object' && Array.isArray(to.addrs) && (to.id == null || typeof to.id === 'string')
    const target = !valid ? undefined : to.id ?? to.addrs.map(a => this.#byAddr.get(a)).find(id => id != null)
    const dst = target == null || target === from ? undefined : this.#nodes.get(target)
    const blocked = dst != null && this.#cuts.length > 0 && this.#blocked(from, dst.id)
    this.#meter?.(from, target, msg, dst != null && dst.state !== 'crashed' && !blocked)
    if (dst == null) {
      // nothing listens at a well-formed address: the host refuses, as loopback does for the libp2p transport
      const reason = valid && target !== from && to.addrs.length > 0 && to.addrs.every(a => isMultiaddr(a) && !this.#byAddr.has(a)) ? 'refused' : 'error'
      this.#back(from, this.latency(), h => { h.onDeliveryFailed(to, msg, reason) })
      return
    }
    if (this.#handshake != null && !(dst.state === 'crashed' && dst.refuse) && this.#connections.get(from)?.has(dst.id) !== true) {
      this.#afterHandshake(from, dst, to, msg, blocked)
      return
    }
    this.#transmit(from, dst, to, msg, blocked)
  }

  /** A send that waits for a connection from `from` to `dst`, set up now unless it already is being set up. */
  #afterHandshake (from: MemberId, dst: SimEndpoint, to: Destination, msg: Message, blocked: boolean): void {
    const key = linkKey(from, dst.id)
    const handshake = this.#handshakes.get(key) ?? this.#startHandshake(from, dst, key, blocked)
    handshake.waiting.push({ to, msg })
    if (msg.type === 'ping') this.#back(from, 0, h => { h.onConnecting?.(to, msg) })
  }

  /** A dial from `from` to `dst`: done after a handshake, or failed after connectTimeoutMs if `dst` cannot answer. */
  #startHandshake (from: MemberId, dst: SimEndpoint, key: string, blocked: boolean): Handshake {
    const handshake: Handshake = { waiting: [] }
    this.#handshakes.set(key, handshake)
    const answers = dst.state === 'up' && !blocked
    const delay = answers ? (this.#handshake as DelayModel)(this.#random) : this.#connectTimeoutMs
    const src = this.#nodes.get(from)
    this.schedule(this.now + delay, () => {
      // a dialler that crashed (or restarted) meanwhile took its dial with it
      if (this.#nodes.get(from) !== src || src?.state === 'crashed') this.#handshakes.delete(key)
      else this.#handshakeDone(from, dst, key, handshake)
    })
    return handshake
  }

  #handshakeDone (from: MemberId, dst: SimEndpoint, key: string, handshake: Handshake): void {
    this.#handshakes.delete(key)
    const blocked = this.#cuts.length > 0 && this.#blocked(from, dst.id)
    if (dst.state !== 'up' || blocked) {
      const reason = dst.state === 'crashed' && dst.refuse ? 'refused' : 'timeout'
      for (const { to, msg } of handshake.waiting) this.#back(from, 0, h => { h.onDeliveryFailed(to, msg, reason) })
      return
    }
    this.#connect(from, dst.id)
    for (const { to, msg } of handshake.waiting) {
      if (msg.type === 'ping') this.#back(from, 0, h => { h.onSentAfterConnecting?.(to, msg) })
      this.#transmit(from, dst, to, msg, false)
    }
  }

  /** Puts one message on the link from `from` to `dst`. */
  #transmit (from: MemberId, dst: SimEndpoint, to: Destination, msg: Message, blocked: boolean): void {
    if (blocked) {
      this.stats.lost++
      return
    }
    const transit = this.#transit(from, dst.id)
    const lost = transit.lost
    const copy = this.#clone ? structuredClone(msg) : msg
    const delay = this.#inOrder(from, dst.id, transit.delay)
    this.schedule(this.now + delay, () => {
      if (dst.state === 'crashed') {
        if (dst.refuse) {
          // A refusal is the host's TCP reset: loss only delays it (the SYN is retransmitted).
          this.stats.refused++
          this.#back(from, delay + (lost ? SYN_RETRY_MS : 0), h => { h.onDeliveryFailed(to, msg, 'refused') })
        } else {
          this.stats.lost++
        }
        return
      }
      if (lost) {
        this.stats.lost++
        return
      }
      this.#deliver(dst, () => {
        this.stats.delivered++
        this.#connect(from, dst.id)
        dst.handlers.onMessage(from, copy)
      })
    })
  }

  /**
   * Carries one work message (workloads/ports.ts) from `from` to `to` over the
   * same links as SWIM's: latency, slowness, loss, partitions. Work delivery
   * reports nothing back (the work core's timers recover), so a message lost,
   * cut off, sent to a crashed process or from one that crashed on the way
   * (its streams die with it) simply vanishes; one to a frozen process is held.
   */
  carry (from: MemberId, to: MemberId, deliver: () => void): void {
    const src = this.#nodes.get(from)
    const dst = this.#nodes.get(to)
    if (src == null || dst == null || (this.#cuts.length > 0 && this.#blocked(from, to))) return
    const { lost, delay } = this.#transit(from, to)
    this.schedule(this.now + delay, () => {
      if (lost || src.state === 'crashed') return
      this.#deliver(dst, deliver)
    })
  }

  /** One message's fate on the link from `from` to `to`: lost or not (the link's loss rate), and its delay (latency plus both ends' slowness). */
  #transit (from: MemberId, to: MemberId): { lost: boolean, delay: number } {
    const linkLoss = this.#linkLoss.size === 0 ? undefined : this.#linkLoss.get(linkKey(from, to))
    const lost = this.#random() < (linkLoss ?? this.lossRate)
    const extra = this.#linkDelay.size === 0 ? 0 : this.#linkDelay.get(linkKey(from, to)) ?? 0
    return { lost, delay: this.latency() + this.#slowness(from) + this.#slowness(to) + extra }
  }

  /**
   * The delay that keeps a link first in, first out, as one stream per peer
   * does: a message never lands before one sent earlier on the same link.
   */
  #inOrder (from: MemberId, to: MemberId, delay: number): number {
    const key = linkKey(from, to)
    const at = Math.max(this.now + delay, this.#lastArrival.get(key) ?? 0)
    this.#lastArrival.set(key, at)
    return at - this.now
  }

  #blocked (from: MemberId, to: MemberId): boolean {
    for (const cut of this.#cuts) {
      if (cut.a.has(from) && cut.b.has(to)) return true
      if (!cut.oneWay && cut.b.has(from) && cut.a.has(to)) return true
    }
    return false
  }

  #slowness (id: MemberId): number {
    const slow = this.#nodes.get(id)?.slow
    return slow == null ? 0 : slow(this.#random)
  }

  #connect (a: MemberId, b: MemberId): void {
    let set = this.#connections.get(a)
    if (set == null) this.#connections.set(a, set = new Set())
    if (set.has(b)) return
    set.add(b)
    let other = this.#connections.get(b)
    if (other == null) this.#connections.set(b, other = new Set())
    other.add(a)
  }

  /** Calls back the sender after `delay` (held while it is frozen, dropped if it crashed). */
  #back (id: MemberId, delay: number, fn: (h: TransportHandlers) => void): void {
    const node = this.#nodes.get(id)
    if (node == null) return
    this.schedule(this.now + delay, () => { this.#deliver(node, () => { fn(node.handlers) }) })
  }

  #deliver (node: SimEndpoint, fn: () => void): void {
    if (node.state === 'crashed') return
    if (node.state === 'frozen') {
      this.stats.held++
      node.held.push(fn)
      return
    }
    fn()
  }

  /**
   * The process dies. With `refuse` (kill -9 on a live host) its connections
   * close, peers get onPeerDisconnected, and later sends are refused; without
   * it (host or link gone) everything it is sent simply vanishes.
   */
  crash (id: MemberId, opts: { refuse: boolean }): void {
    const node = this.#nodes.get(id)
    if (node == null) return
    node.state = 'crashed'
    node.refuse = opts.refuse
    node.held = []
    const peers = this.#connections.get(id) ?? new Set<MemberId>()
    this.#connections.delete(id)
    for (const other of peers) {
      this.#connections.get(other)?.delete(id)
      if (opts.refuse) this.#back(other, this.latency(), h => { h.onPeerDisconnected(id) })
    }
  }

  /** Every message to or from `id` takes an extra `delay` (undefined: back to normal). */
  setSlow (id: MemberId, delay: DelayModel | undefined): void {
    const node = this.#nodes.get(id)
    if (node != null) node.slow = delay
  }

  freeze (id: MemberId): void {
    const node = this.#nodes.get(id)
    if (node != null && node.state === 'up') node.state = 'frozen'
  }

  /** Resumes a frozen node; what it was sent meanwhile is handed over now, in order. */
  resume (id: MemberId): void {
    const node = this.#nodes.get(id)
    if (node == null || node.state !== 'frozen') return
    node.state = 'up'
    const held = node.held
    node.held = []
    for (const fn of held) this.schedule(this.now, () => { this.#deliver(node, fn) })
  }

  /** Drops every message from a side to the other (both ways unless `oneWay`). */
  partition (a: Iterable<MemberId>, b: Iterable<MemberId>, opts: { oneWay?: boolean } = {}): void {
    this.#cuts.push({ a: new Set(a), b: new Set(b), oneWay: opts.oneWay === true })
  }

  heal (): void {
    this.#cuts = []
  }

  setLinkLoss (from: MemberId, to: MemberId, rate: number): void {
    this.#linkLoss.set(linkKey(from, to), rate)
  }

  /** Every message from `from` to `to` takes `ms` longer (0: back to the latency alone). */
  setLinkDelay (from: MemberId, to: MemberId, ms: number): void {
    if (ms > 0) this.#linkDelay.set(linkKey(from, to), ms)
    else this.#linkDelay.delete(linkKey(from, to))
  }
}
