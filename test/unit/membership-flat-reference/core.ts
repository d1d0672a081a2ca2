// @ts-nocheck: a frozen copy of membership/core.ts before the flat-cost index (membership-flat-lockstep.test.ts)
/**
 * The membership core: a sans-IO SWIM + Lifeguard state machine.
 *
 * Every entry point takes the current time and returns the effects to perform
 * (messages to send, member events), in the order decided. Timers are
 * deadlines in state; `tick(now)` runs whatever is due and `nextDeadline()`
 * says when that is. Randomness comes only from the injected generator.
 *
 * Concerns live in their own files: merge rules (apply.ts), probing
 * (probe.ts), suspicion timers (suspicion.ts), local health (awareness.ts),
 * the broadcast queue (broadcasts.ts), input checks (validate.ts), formulas,
 * stable membership / side / partition verdicts (partition.ts).
 */
import type { Membership, MembershipOptions, MembershipStats } from '../../../membership/index.ts'
import type { DeliveryFailure, Destination, Effect, Health, Member, MemberId, Message, Update } from '../../../membership/types.ts'
import { validate } from '../../../membership/config.ts'
import { Awareness } from './awareness.ts'
import { BroadcastQueue } from '../../../membership/broadcasts.ts'
import { pushPullScaleMs, reconnectScaleMs } from '../../../membership/formulas.ts'
import { pickRandom } from '../../../membership/random.ts'
import { postponeSuspicion, stretchForLocalHealth } from './suspicion.ts'
import { isValidMessage } from '../../../membership/validate.ts'
import { createPartitionState, updatePartition } from '../../../membership/partition.ts'
import { Ring } from '../../../membership/neighbors.ts'
import { viewDigest } from '../../../membership/digest.ts'
import { setNewest } from '../../../membership/bounded-map.ts'
import { heardAgain } from '../../../membership/missed-nacks.ts'
import { signLeave } from '../../../membership/signatures.ts'
import { applyUpdate, failSuspect, mergeSync, reap } from './apply.ts'
import { onAck, onDeliveryFailed, onNack, onPing, onPingReq, probeDeadline, probeNext, probeSoon, tickProbes, verifySuspect } from './probe.ts'
import {
  accusationOf, aliveUpdate, allowOnce, broadcast, copyMember, destinationOf, fullState, isLive, isSelfLeft,
  gossipCandidates, liveCount, piggyback, ringNeighbours, send, type MemberRecord, type State
} from './state.ts'

/**
 * After a join, push-pulls come early: the first within this many probe intervals, then after
 * twice as long each time (randomized in [1/2, 1] of the gap) until the gap reaches the period.
 */
const EARLY_PUSH_PULL_INTERVALS = 1
/** As membership/state.ts MAX_HEARD. */
const MAX_HEARD = 128
/** First retry of a join whose delivery failed (the seed may still be starting); doubles up to joinRetryIntervalMs. */
const JOIN_FIRST_RETRY_MS = 100
/** A stall (see enter()) this many probe intervals long or longer is followed by a full sync. */
const STALL_SYNC_INTERVALS = 5
/** An unanswered join is sent again after joinRetryIntervalMs, then twice as long each time, up to this many intervals. */
const JOIN_MAX_WAIT_INTERVALS = 8
const DELIVERY_FAILURES: ReadonlySet<string> = new Set<DeliveryFailure>(['refused', 'timeout', 'error'])

export function createMembership (opts: MembershipOptions): Membership {
  const config = validate({ ...opts.config })
  const random = opts.random
  const start = Number.isFinite(opts.now) ? opts.now : 0
  const self: Member = {
    id: opts.self.id,
    name: opts.self.name,
    addrs: [...opts.self.addrs],
    tags: { ...opts.self.tags },
    incarnation: opts.self.incarnation,
    bootId: opts.self.bootId,
    status: 'alive',
    statusSince: start
  }
  const state: State = {
    config,
    random,
    self,
    members: new Map(),
    awareness: new Awareness(config.awarenessMaxMultiplier),
    broadcasts: new BroadcastQueue(),
    tombstones: new Map(),
    stats: {
      probesSent: 0,
      indirectProbesSent: 0,
      probeFailures: 0,
      suspicionsRaised: 0,
      refutations: 0,
      messagesReceived: 0,
      messagesIgnored: 0,
      updatesApplied: 0,
      syncsSent: 0,
      syncsSentFor: { join: 0, answer: 0, pushPull: 0, reconnect: 0, stranger: 0 },
      digestsSent: 0,
      digestsDiffered: 0,
      signaturesRejected: 0
    },
    out: [],
    now: start,
    staleAccusation: false,
    seq: 0,
    ring: new Ring(self.id),
    probeOrder: [],
    probeIndex: 0,
    // Stagger the periodic work so that nodes started together do not act in lockstep.
    nextProbeAt: start + stagger(random, config.probeIntervalMs),
    probes: new Map(),
    relays: new Map(),
    // kept in step with membership/core.ts: who talked to us lately (probe.ts sendIndirect)
    heardAt: new Map(),
    silentIntermediaries: new Map(),
    nextGossipAt: start + stagger(random, config.gossipIntervalMs),
    nextPushPullAt: start + stagger(random, config.pushPullIntervalMs),
    earlyPushPullGapMs: 0,
    nextReconnectAt: start + stagger(random, config.reconnectIntervalMs),
    partition: createPartitionState(self.id, start, config.stableAfterMs),
    signer: opts.signer
  }

  let lastLateAt = -Infinity
  /** Unknown senders we asked for a sync, and when. */
  const strangers = new Map<MemberId, number>()
  /** Peers we sent our current announcement because they accused an older incarnation of us. */
  const corrected = new Map<MemberId, number>()

  // Announce ourselves: whoever we first talk to spreads it (memberlist's setAlive).
  broadcast(state, aliveUpdate(state, self))

  /** Runs one input at time `now` and returns its effects. */
  function run (now: number, body: () => void): Effect[] {
    state.out = []
    enter(now)
    const neighbours = ringNeighbours(state)
    body()
    catchUpNewNeighbours(neighbours)
    updatePartition(state)
    const out = state.out
    state.out = []
    return out
  }

  /**
   * Moves the clock. A deadline overdue by more than a probe interval means this
   * process did not run (SIGSTOP, a blocked event loop, a suspended VM): whatever
   * was timed during that gap says nothing about the others, so in-flight probes
   * are dropped without a verdict, running suspicions get a short grace period for
   * refutations still queued; after a long stall, a full sync is done at once to
   * catch up. Only after a long one: a process starved of CPU (dozens of agents
   * starting on two cores) is late by a second or two over and over, and a full
   * sync each time, answered with another, was most of what kept it starved.
   */
  function enter (now: number): void {
    const t = Number.isFinite(now) ? Math.max(now, state.now) : state.now
    // The one later fix applied to this copy too (membership/timers.ts advanceClock):
    // a deadline an input moved into the past is not a stall.
    const overdue = t - Math.max(nextDeadline(), state.now)
    state.now = t
    if (overdue > config.probeTimeoutMs) lateTimer(t)
    if (overdue > config.probeIntervalMs) recoverFromStall(t, overdue >= STALL_SYNC_INTERVALS * config.probeIntervalMs)
  }

  function lateTimer (now: number): void {
    // At most once per probe interval as scaled by health: as often as a successful
    // probe can bring it back down, so that health does not stick at its maximum
    // while timers are late now and then.
    if (now - lastLateAt < state.awareness.scale(config.probeIntervalMs)) return
    lastLateAt = now
    state.awareness.apply(1)
  }

  /**
   * The health score to stretch a suspicion by: only when a late timer showed this
   * process starved since the suspicion began. Missed nacks alone do not count: a
   * node on the minority side of a partition misses them too, and it must find
   * the other side failed as fast as the majority does.
   */
  function starvedScore (since: number): number {
    return lastLateAt >= since ? state.awareness.score : 0
  }

  function recoverFromStall (now: number, sync: boolean): void {
    state.probes.clear()
    state.relays.clear()
    for (const rec of state.members.values()) {
      if (rec.suspicion == null) continue
      postponeSuspicion(rec.suspicion, now + 2 * config.probeIntervalMs)
      rec.suspicion.verified = false
    }
    state.nextProbeAt = now + stagger(random, config.probeIntervalMs)
    state.nextGossipAt = now
    if (sync) {
      state.nextPushPullAt = now
      state.nextReconnectAt = now
    }
    if (state.join != null) state.join.nextRetryAt = now
  }

  function nextDeadline (): number {
    let d = Infinity
    if (!isSelfLeft(state)) {
      d = Math.min(state.nextProbeAt, state.nextPushPullAt, probeDeadline(state))
      if (hasFailedMembers()) d = Math.min(d, state.nextReconnectAt)
      // A gossip round with nothing queued, or no one to send it to (an agent alone), does nothing: no need to wake up for it.
      if (state.broadcasts.size > 0 && state.members.size > 0) d = Math.min(d, gossipDueAt())
      if (state.join != null) d = Math.min(d, state.join.nextRetryAt)
      d = Math.min(d, state.partition.nextAt)
    }
    for (const rec of state.members.values()) {
      const m = rec.member
      if (m.status === 'suspect' && rec.suspicion != null && !isSelfLeft(state)) {
        d = Math.min(d, rec.suspicion.verified ? rec.suspicion.deadline : verifyAt(rec))
      } else if (m.status === 'failed') d = Math.min(d, m.statusSince + config.reapFailedAfterMs)
      else if (m.status === 'left') d = Math.min(d, m.statusSince + config.reapLeftAfterMs)
    }
    return d
  }

  /**
   * When to send the last direct probe of a suspect (a buddy ping carrying the
   * suspicion): early enough that its ack, and the refutation it provokes or
   * carries, can arrive before the suspicion runs out. Dissemination alone
   * misses a few members now and then; this makes each one check for itself.
   */
  function verifyAt (rec: MemberRecord): number {
    const s = rec.suspicion!
    if (s.verified || rec.refused) return s.deadline
    return Math.min(s.deadline, s.deadline - 2 * state.awareness.scale(config.probeIntervalMs))
  }

  // mirrors membership/core.ts: what the sender sent is not sent back to it
  function applyAll (from: MemberId, updates: Update[]): void {
    for (const u of updates) {
      applyUpdate(state, u)
      state.broadcasts.heard(u, from)
    }
  }

  function sendJoin (): void {
    if (state.join == null) return
    for (const seed of state.join.seeds) {
      countSync('join')
      send(state, { ...seed, addrs: [...seed.addrs] }, { type: 'sync', reply: true, join: true, members: fullState(state) })
    }
  }

  // mirrors membership/timers.ts: news (a verdict, a join through us) queued since the last round hurries it
  function gossipDueAt (): number {
    if (state.broadcasts.news === 0) return state.nextGossipAt
    return state.nextGossipAt - 0.75 * config.gossipIntervalMs
  }

  // mirrors membership/dissemination.ts: targets that lack the next update first; nothing sent to who holds it
  function gossipRound (): void {
    if (state.broadcasts.size === 0) {
      state.broadcasts.roundDone()
      return
    }
    const candidates = gossipCandidates(state)
    // news queued since the last round goes to every candidate lacking it
    const lackingNews = state.broadcasts.lackingNews(candidates)
    const lackingNext = state.broadcasts.lacking(candidates).filter(id => !lackingNews.includes(id))
    const first = lackingNews.concat(pickRandom(random, lackingNext, config.gossipNodes - lackingNews.length))
    const targets = first.length >= config.gossipNodes ? first : first.concat(pickRandom(random, candidates.filter(id => !first.includes(id)), config.gossipNodes - first.length))
    for (const id of targets) {
      const updates = piggyback(state, id)
      if (updates.length > 0) send(state, destinationOf(state, id), { type: 'gossip', updates })
      if (state.broadcasts.size === 0) break
    }
    state.broadcasts.roundDone()
  }

  /**
   * Anti-entropy: a full state exchange with one random alive member (with the
   * ring, one of the neighbourhood: no connection just for it; the long links
   * still mix state across the ring).
   */
  function pushPull (): void {
    const ring = ringNeighbours(state)
    const alive = ring != null
      ? ring.filter(id => state.members.get(id)?.member.status === 'alive')
      : [...state.members.values()].filter(rec => rec.member.status === 'alive').map(rec => rec.member.id)
    // kept in step with membership/sync.ts: a digest first
    const partner = pickRandom(random, alive, 1)[0]
    if (partner == null) return
    state.stats.digestsSent++
    send(state, destinationOf(state, partner), { type: 'digest', ...viewDigest(state.self, state.members.values()) })
  }

  // kept in step with membership/sync.ts catchUpNewNeighbours
  function catchUpNewNeighbours (before: readonly MemberId[] | undefined): void {
    if (before == null || isSelfLeft(state)) return
    const after = ringNeighbours(state)
    if (after == null || after === before) return
    if (before.every(id => state.ring.has(id))) return
    for (const id of after) {
      if (before.includes(id) || state.members.get(id)?.member.status !== 'alive') continue
      state.stats.digestsSent++
      send(state, destinationOf(state, id), { type: 'digest', ...viewDigest(state.self, state.members.values()) })
    }
  }

  function onDigest (from: MemberId, msg: Extract<Message, { type: 'digest' }>): void {
    if (isSelfLeft(state) || !state.members.has(from)) return
    const own = viewDigest(state.self, state.members.values())
    if (own.members === msg.members && own.hash === msg.hash) return
    state.stats.digestsDiffered++
    syncWith(from, 'pushPull')
  }

  /**
   * Partition healing (Serf's reconnect, but every few seconds rather than 30 s):
   * offer our state to one random failed member. If the network between us healed,
   * it merges our view, learns it was declared failed, and refutes; we merge its view.
   */
  function reconnect (): void {
    const failed = [...state.members.values()].filter(rec => rec.member.status === 'failed').map(rec => rec.member.id)
    syncWith(pickRandom(random, failed, 1)[0], 'reconnect')
  }

  function hasFailedMembers (): boolean {
    for (const rec of state.members.values()) if (rec.member.status === 'failed') return true
    return false
  }

  function countSync (why: keyof MembershipStats['syncsSentFor']): void {
    state.stats.syncsSent++
    state.stats.syncsSentFor[why]++
  }

  function syncWith (id: MemberId | undefined, why: 'pushPull' | 'reconnect'): void {
    if (id == null) return
    countSync(why)
    send(state, destinationOf(state, id), { type: 'sync', reply: true, join: false, members: fullState(state) })
  }

  /** A member we hold suspect or failed is talking to us: tell it, so that it can refute at once. */
  function tellAccused (from: MemberId): void {
    if (isSelfLeft(state)) return
    const rec = state.members.get(from)
    if (rec == null) return
    const accusation = accusationOf(state, rec.member)
    if (accusation == null || state.now - rec.lastToldAt < config.gossipIntervalMs) return
    rec.lastToldAt = state.now
    send(state, destinationOf(state, from), { type: 'gossip', updates: [accusation] })
  }

  /**
   * A member we have never heard of is talking to us (its announcement was lost
   * on the way to us): pull its full state rather than wait for anti-entropy.
   */
  function learnStranger (from: MemberId, msg: Message): void {
    if (msg.type === 'sync' || isSelfLeft(state) || state.members.has(from)) return
    if (!allowOnce(strangers, from, state.now, config.joinRetryIntervalMs)) return
    countSync('stranger')
    send(state, { id: from, addrs: [] }, { type: 'sync', reply: true, join: false, members: fullState(state) })
  }

  /**
   * The sender still accuses an incarnation of us that we already refuted: the
   * refutation missed it, so send it our announcement directly, before its own
   * suspicion timer declares us failed.
   */
  function correctSender (from: MemberId): void {
    if (!allowOnce(corrected, from, state.now, config.gossipIntervalMs)) return
    send(state, destinationOf(state, from), { type: 'gossip', updates: [aliveUpdate(state, state.self)] })
  }

  function handle (from: MemberId, msg: Message): void {
    switch (msg.type) {
      case 'ping': applyAll(from, msg.updates); onPing(state, from, msg); break
      case 'ping-req': applyAll(from, msg.updates); onPingReq(state, from, msg); break
      case 'ack': applyAll(from, msg.updates); onAck(state, from, msg); break
      case 'nack': applyAll(from, msg.updates); onNack(state, from, msg); break
      case 'gossip': applyAll(from, msg.updates); break
      case 'digest': onDigest(from, msg); break
      case 'sync':
        mergeSync(state, msg.members, from)
        if (!msg.reply) {
          if (state.join != null) {
            // Joined. Members that join around the same time may miss each other's
            // announcements: early anti-entropy rounds catch those up.
            state.join = undefined
            const first = EARLY_PUSH_PULL_INTERVALS * config.probeIntervalMs
            state.nextPushPullAt = Math.min(state.nextPushPullAt, state.now + stagger(random, first))
            state.earlyPushPullGapMs = 2 * first
          }
        } else {
          if (msg.join) state.broadcasts.joinedThroughUs(from)
          countSync('answer')
          send(state, destinationOf(state, from), { type: 'sync', reply: false, join: false, members: fullState(state) })
        }
        break
    }
  }

  const membership: Membership = {
    get self (): Member {
      return copyMember(state.self)
    },

    join (now: number, seeds: Destination[]): Effect[] {
      return run(now, () => {
        if (isSelfLeft(state) || !Array.isArray(seeds)) return
        const usable = seeds.filter(s => s != null && Array.isArray(s.addrs) && s.id !== state.self.id && (s.id != null || s.addrs.length > 0))
        if (usable.length === 0) return
        state.join = {
          seeds: usable.map(s => ({ ...s, addrs: [...s.addrs] })),
          nextRetryAt: state.now + config.joinRetryIntervalMs,
          backoffMs: Math.min(JOIN_FIRST_RETRY_MS, config.joinRetryIntervalMs),
          unansweredMs: config.joinRetryIntervalMs
        }
        sendJoin()
      })
    },

    receive (now: number, from: MemberId, msg: Message): Effect[] {
      return run(now, () => {
        state.stats.messagesReceived++
        if (typeof from !== 'string' || from.length === 0 || from === state.self.id || !isValidMessage(msg)) {
          state.stats.messagesIgnored++
          return
        }
        state.staleAccusation = false
        if (state.members.has(from)) {
          setNewest(state.heardAt, from, state.now, MAX_HEARD)
          heardAgain(state, from)
        }
        handle(from, msg)
        if (state.staleAccusation) correctSender(from)
        tellAccused(from)
        learnStranger(from, msg)
      })
    },

    deliveryFailed (now: number, to: Destination, msg: Message, reason: DeliveryFailure): Effect[] {
      return run(now, () => {
        if (to == null || msg == null || !DELIVERY_FAILURES.has(reason) || isSelfLeft(state)) return
        if (msg.type === 'sync' && msg.join && state.join != null) {
          // A seed that is not up yet (refused): retry soon, backing off, instead of a whole
          // retry interval later. One that timed out is up but busy, maybe answering a crowd
          // of joins: the unanswered join's own schedule (doubling) applies.
          if (reason !== 'refused') return
          state.join.nextRetryAt = Math.min(state.join.nextRetryAt, state.now + state.join.backoffMs)
          state.join.backoffMs = Math.min(state.join.backoffMs * 2, config.joinRetryIntervalMs)
          return
        }
        onDeliveryFailed(state, to, msg, reason)
      })
    },

    peerDisconnected (now: number, id: MemberId): Effect[] {
      return run(now, () => { probeSoon(state, id) })
    },

    tick (now: number): Effect[] {
      return run(now, () => {
        const t = state.now
        if (!isSelfLeft(state)) {
          tickProbes(state)
          for (const rec of [...state.members.values()]) {
            if (rec.member.status !== 'suspect' || rec.suspicion == null) continue
            if (!rec.suspicion.verified && t >= verifyAt(rec)) {
              rec.suspicion.verified = true
              verifySuspect(state, rec)
            }
            if (t >= rec.suspicion.deadline && !stretchForLocalHealth(rec.suspicion, t, starvedScore(rec.suspicion.startedAt))) failSuspect(state, rec)
          }
          if (t >= state.nextProbeAt) {
            probeNext(state)
            state.nextProbeAt = t + state.awareness.scale(config.probeIntervalMs)
          }
          if (t >= gossipDueAt()) {
            gossipRound()
            state.nextGossipAt = t + config.gossipIntervalMs
          }
          if (t >= state.nextPushPullAt) {
            pushPull()
            const period = pushPullScaleMs(config.pushPullIntervalMs, liveCount(state))
            const gap = state.earlyPushPullGapMs
            const early = gap !== 0 && gap < period
            state.earlyPushPullGapMs = early ? 2 * gap : 0
            state.nextPushPullAt = t + (early ? stagger(random, gap) : period)
          }
          if (t >= state.nextReconnectAt) {
            reconnect()
            state.nextReconnectAt = t + reconnectScaleMs(config.reconnectIntervalMs, liveCount(state))
          }
          if (state.join != null && t >= state.join.nextRetryAt) {
            sendJoin()
            // Unanswered: the seed may be busy answering a crowd of joins, each with a
            // full sync; asking again every interval would only add to its queue.
            state.join.unansweredMs = Math.min(state.join.unansweredMs * 2, JOIN_MAX_WAIT_INTERVALS * config.joinRetryIntervalMs)
            state.join.nextRetryAt = t + state.join.unansweredMs
          }
        }
        for (const rec of [...state.members.values()]) {
          const m = rec.member
          if ((m.status === 'failed' && t >= m.statusSince + config.reapFailedAfterMs) ||
            (m.status === 'left' && t >= m.statusSince + config.reapLeftAfterMs)) reap(state, rec)
        }
      })
    },

    leave (now: number): Effect[] {
      return run(now, () => {
        if (isSelfLeft(state)) return
        const self = state.self
        self.incarnation++
        self.status = 'left'
        self.cause = 'left'
        self.statusSince = state.now
        const leave: Update = { type: 'leave', id: self.id, incarnation: self.incarnation }
        state.selfLeaveSignature = signLeave(state, self.id, self.incarnation)
        if (state.selfLeaveSignature != null) leave.signature = state.selfLeaveSignature
        broadcast(state, leave)
        state.probes.clear()
        state.relays.clear()
        // Tell those who probe us directly (everyone, or with the ring our neighbourhood, which holds
        // our predecessors): waiting for gossip would keep them probing a node that is gone.
        const told = new Set<MemberId>()
        const direct = ringNeighbours(state) ?? [...state.members.values()].filter(rec => isLive(rec.member)).map(rec => rec.member.id)
        for (const id of direct) {
          told.add(id)
          send(state, destinationOf(state, id), { type: 'gossip', updates: [{ ...leave }] })
        }
        // Leaving while the join is unanswered: the seeds may already list us.
        for (const seed of state.join?.seeds ?? []) {
          if (seed.id == null || !told.has(seed.id)) send(state, { ...seed, addrs: [...seed.addrs] }, { type: 'gossip', updates: [{ ...leave }] })
        }
        state.join = undefined
      })
    },

    update (now: number, change: { tags?: Record<string, string>, addrs?: string[] }): Effect[] {
      return run(now, () => {
        if (isSelfLeft(state) || change == null) return
        if (change.tags != null) state.self.tags = { ...change.tags }
        if (change.addrs != null) state.self.addrs = [...change.addrs]
        state.self.incarnation++
        broadcast(state, aliveUpdate(state, state.self))
      })
    },

    members (): Member[] {
      const all = [copyMember(state.self)]
      for (const rec of state.members.values()) all.push(copyMember(rec.member))
      return all.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    },

    member (id: MemberId): Member | undefined {
      if (id === state.self.id) return copyMember(state.self)
      const rec = state.members.get(id)
      return rec == null ? undefined : copyMember(rec.member)
    },

    nextDeadline,

    stats (): MembershipStats {
      return { ...state.stats, syncsSentFor: { ...state.stats.syncsSentFor }, localHealth: state.awareness.score }
    },

    health (): Health {
      return { ...state.partition.health }
    }
  }
  return membership
}

/** A random delay in [interval / 2, interval). */
function stagger (random: () => number, intervalMs: number): number {
  return Math.floor(intervalMs * (0.5 + random() / 2))
}
