/**
 * Hand-wired membership cores for unit tests: zero-latency, synchronous,
 * in-order delivery; every fault (silence, refusal, dropping chosen messages)
 * is explicit. Time advances only through `advance()`, which ticks each core
 * exactly at its deadlines.
 */
import { createMembership, fromPartial, seededRandom } from '../../membership/index.ts'
import { Ring } from '../../membership/neighbors.ts'
import type { Signer, ClusterEvent, Destination, Effect, JoinEvent, MemberEvent, MemberId, Membership, MembershipConfig, Message } from '../../membership/index.ts'

export interface SentMessage { at: number, from: MemberId, to: Destination, msg: Message }
export interface SeenEvent { at: number, observer: MemberId, event: MemberEvent }
export interface SeenClusterEvent { at: number, observer: MemberId, event: ClusterEvent }

export const addrOf = (id: MemberId): string => `/memory/${id}`

/** The ring as `self` sees it with every one of `members` alive. */
export function ringOf (self: MemberId, members: MemberId[]): Ring {
  const ring = new Ring(self)
  for (const id of members) ring.sync(id, true)
  return ring
}

export class Wire {
  now = 0
  readonly cores = new Map<MemberId, Membership>()
  /** Silent: messages to these vanish, and they are not ticked (a dead host, or a frozen process). */
  readonly silent = new Set<MemberId>()
  /** Crashed with the host up: messages to these are refused. */
  readonly refusing = new Set<MemberId>()
  /** Return true to drop a message. */
  drop: (m: SentMessage) => boolean = () => false
  readonly sent: SentMessage[] = []
  /** `path-failed` effects: which node asked its transport to try another path to whom. */
  readonly pathFailures: Array<{ at: number, observer: MemberId, id: MemberId }> = []
  readonly events: SeenEvent[] = []
  readonly clusterEvents: SeenClusterEvent[] = []
  /** Join progress (join:failed, join:done) as each node's core reported it. */
  readonly joinEvents: Array<{ at: number, observer: MemberId, event: JoinEvent }> = []
  readonly config: MembershipConfig
  /** Claim signing per member (membership/signatures.ts); none: unsigned. */
  readonly signerOf?: (id: MemberId) => Signer

  constructor (config: Partial<MembershipConfig> = {}, signerOf?: (id: MemberId) => Signer) {
    this.config = fromPartial(config, 'lan')
    this.signerOf = signerOf
  }

  /** The shared clock's reading at time 0 for cores added from now on (probe turns: membership/probe-turns.ts); none by default. */
  sharedClockAtZero?: number

  add (id: MemberId, seed = this.cores.size + 1, bootId = `boot-${id}`): Membership {
    const core = createMembership({
      self: { id, name: id, addrs: [addrOf(id)], tags: {}, incarnation: 0, bootId },
      config: this.config,
      random: seededRandom(seed),
      now: this.now,
      sharedClockNow: this.sharedClockAtZero == null ? undefined : this.sharedClockAtZero + this.now,
      signer: this.signerOf?.(id)
    })
    this.cores.set(id, core)
    return core
  }

  core (id: MemberId): Membership {
    const core = this.cores.get(id)
    if (core == null) throw new Error(`no core ${id}`)
    return core
  }

  /** Performs effects of `from`, and everything they cause, until quiet. */
  perform (from: MemberId, effects: Effect[]): void {
    const queue: Array<{ from: MemberId, effect: Effect }> = effects.map(effect => ({ from, effect }))
    let steps = 0
    while (queue.length > 0) {
      if (++steps > 100_000) throw new Error('message storm')
      const { from: sender, effect } = queue.shift()!
      if (effect.kind === 'event') {
        this.events.push({ at: this.now, observer: sender, event: effect.event })
        continue
      }
      if (effect.kind === 'cluster') {
        this.clusterEvents.push({ at: this.now, observer: sender, event: effect.event })
        continue
      }
      if (effect.kind === 'join') {
        this.joinEvents.push({ at: this.now, observer: sender, event: effect.event })
        continue
      }
      if (effect.kind === 'path-failed') {
        this.pathFailures.push({ at: this.now, observer: sender, id: effect.id })
        continue
      }
      const sent = { at: this.now, from: sender, to: effect.to, msg: effect.msg }
      this.sent.push(sent)
      const to = effect.to.id ?? effect.to.addrs.map(a => a.replace('/memory/', '')).find(id => this.cores.has(id))
      if (to == null || !this.cores.has(to) || this.drop(sent) || this.silent.has(sender)) continue
      if (this.refusing.has(to)) {
        const out = this.core(sender).deliveryFailed(this.now, effect.to, effect.msg, 'refused')
        for (const e of out) queue.push({ from: sender, effect: e })
        continue
      }
      if (this.silent.has(to)) continue
      const out = this.core(to).receive(this.now, sender, structuredClone(effect.msg))
      for (const e of out) queue.push({ from: to, effect: e })
    }
  }

  /** Runs an input on one core at the current time. */
  input (id: MemberId, fn: (core: Membership, now: number) => Effect[]): Effect[] {
    const effects = fn(this.core(id), this.now)
    this.perform(id, effects)
    return effects
  }

  #active (): MemberId[] {
    return [...this.cores.keys()].filter(id => !this.silent.has(id) && !this.refusing.has(id))
  }

  /** Advances time to `to`, ticking every active core at each of its deadlines. */
  advanceTo (to: number): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next = Infinity
      let who: MemberId | undefined
      for (const id of this.#active()) {
        const d = this.core(id).nextDeadline()
        if (d < next) { next = d; who = id }
      }
      if (who == null || next > to) break
      this.now = Math.max(this.now, next)
      this.input(who, (core, now) => core.tick(now))
    }
    this.now = Math.max(this.now, to)
  }

  advance (ms: number): void {
    this.advanceTo(this.now + ms)
  }

  /** Advances until `pred` holds (checked after each tick); returns whether it did within `maxMs`. */
  advanceUntil (pred: () => boolean, maxMs: number, stepMs = 10): boolean {
    const end = this.now + maxMs
    while (this.now < end) {
      if (pred()) return true
      this.advanceTo(Math.min(end, this.now + stepMs))
    }
    return pred()
  }

  /** Joins every core but the first to the first one and lets the cluster settle. */
  joinAll (settleMs = 3000): void {
    const [seed, ...rest] = [...this.cores.keys()]
    for (const id of rest) this.input(id, (core, now) => core.join(now, [{ addrs: [addrOf(seed)] }]))
    this.advance(settleMs)
  }

  eventsOf (observer: MemberId, type?: string, about?: MemberId): MemberEvent[] {
    return this.events
      .filter(e => e.observer === observer && (type == null || e.event.type === type) && (about == null || e.event.member.id === about))
      .map(e => e.event)
  }

  status (observer: MemberId, about: MemberId): string | undefined {
    return this.core(observer).member(about)?.status
  }
}
