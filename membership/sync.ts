/**
 * Full-state syncs: joining through seeds (and retrying), answering a sync,
 * anti-entropy push-pull with a live member (a digest first, the full states
 * only when the views differ), partition healing with a failed one, and
 * pulling the state of a stranger that talks to us.
 */
import type { DeliveryFailure, Destination, MemberId, Message } from './types.ts'
import type { MembershipStats } from './index.ts'
import { pickRandom } from './random.ts'
import { mergeSync } from './merge-sync.ts'
import { destinationOf, fullState, isSelfLeft, send, type State } from './state.ts'
import { ringNeighbours } from './ring-view.ts'
import { allowOnce } from './bounded-map.ts'
import { admit, takeDueAnswers } from './sync-answers.ts'
import { inOrder } from './member-index.ts'
import { digestOf, type ViewDigest } from './digest.ts'
import { pushPullEarlyAfterJoin } from './push-pull-schedule.ts'

type Sync = Extract<Message, { type: 'sync' }>
type Digest = Extract<Message, { type: 'digest' }>

/** First retry of a join whose delivery failed (the seed may still be starting); doubles up to joinRetryIntervalMs. */
const JOIN_FIRST_RETRY_MS = 100
/** An unanswered join is sent again after joinRetryIntervalMs, then twice as long each time, up to this many intervals. */
const JOIN_MAX_WAIT_INTERVALS = 8

function countSync (state: State, why: keyof MembershipStats['syncsSentFor']): void {
  state.stats.syncsSent++
  state.stats.syncsSentFor[why]++
}

/** Starts joining through `seeds` (those usable: not this node, with an id or an address) and sends the first join. */
export function startJoin (state: State, seeds: Destination[]): void {
  if (isSelfLeft(state) || !Array.isArray(seeds)) return
  const config = state.config
  const usable = seeds.filter(s => s != null && Array.isArray(s.addrs) && s.id !== state.self.id && (s.id != null || s.addrs.length > 0))
  if (usable.length === 0) return
  state.join = {
    seeds: usable.map(s => ({ ...s, addrs: [...s.addrs] })),
    nextRetryAt: state.now + config.joinRetryIntervalMs,
    backoffMs: Math.min(JOIN_FIRST_RETRY_MS, config.joinRetryIntervalMs),
    unansweredMs: config.joinRetryIntervalMs
  }
  sendJoin(state)
}

function sendJoin (state: State): void {
  if (state.join == null) return
  for (const seed of state.join.seeds) {
    countSync(state, 'join')
    send(state, { ...seed, addrs: [...seed.addrs] }, { type: 'sync', reply: true, join: true, members: fullState(state) })
  }
}

/** The join is due again (see `state.join.nextRetryAt`): sends it and waits longer for the next. */
export function retryJoin (state: State): void {
  if (state.join == null) return
  sendJoin(state)
  // Unanswered: the seed may be busy answering a crowd of joins, each with a
  // full sync; asking again every interval would only add to its queue.
  state.join.unansweredMs = Math.min(state.join.unansweredMs * 2, JOIN_MAX_WAIT_INTERVALS * state.config.joinRetryIntervalMs)
  state.join.nextRetryAt = state.now + state.join.unansweredMs
}

/** A join we sent to `seed` could not be delivered; the join:failed event says when it goes again. */
export function joinUndelivered (state: State, seed: Destination, reason: DeliveryFailure): void {
  if (state.join == null) return
  // A seed that is not up yet (refused): retry soon, backing off, instead of a whole
  // retry interval later. One that timed out is up but busy, maybe answering a crowd
  // of joins: the unanswered join's own schedule (doubling) applies.
  if (reason === 'refused') {
    state.join.nextRetryAt = Math.min(state.join.nextRetryAt, state.now + state.join.backoffMs)
    state.join.backoffMs = Math.min(state.join.backoffMs * 2, state.config.joinRetryIntervalMs)
  }
  const retryInMs = Math.max(0, state.join.nextRetryAt - state.now)
  state.out.push({ kind: 'join', event: { type: 'join:failed', seed: { ...seed, addrs: [...seed.addrs] }, reason, retryInMs } })
}

/** A sync from `from`: merged, then answered when it asks for a reply; an answer ends our join. */
export function onSync (state: State, from: MemberId, msg: Sync): void {
  mergeSync(state, msg.members, from)
  if (!msg.reply) {
    if (state.join != null) {
      // Joined. Members that join around the same time may miss each other's
      // announcements: early anti-entropy rounds catch those up.
      state.join = undefined
      state.out.push({ kind: 'join', event: { type: 'join:done', via: from } })
      pushPullEarlyAfterJoin(state)
    }
  } else {
    // A member joining through us: its announcement goes to every neighbour
    // that lacks it in the next round, hurried, rather than to three a round;
    // a member that joins a small cluster is known everywhere a hop later.
    if (msg.join) state.broadcasts.joinedThroughUs(from)
    if (admit(state, from, false)) answer(state, from)
  }
}

/** Sends the answers to requests that waited for their member's gap to end (sync-answers.ts). */
export function sendDueAnswers (state: State): void {
  for (const { id, reply } of takeDueAnswers(state)) {
    if (reply) syncWith(state, id, 'pushPull')
    else answer(state, id)
  }
}

function answer (state: State, to: MemberId): void {
  countSync(state, 'answer')
  send(state, destinationOf(state, to), { type: 'sync', reply: false, join: false, members: fullState(state) })
}

/**
 * Anti-entropy with one random alive member (with the ring, one of the
 * neighbourhood: no connection just for it; the long links still mix state
 * across the ring): our view's digest, which the member compares with its own
 * (onDigest). Equal views, the usual case, cost a few bytes instead of two
 * full states.
 */
export function pushPull (state: State): void {
  const ring = ringNeighbours(state)
  const alive = ring != null
    ? ring.filter(id => state.members.get(id)?.member.status === 'alive')
    : [...state.members.values()].filter(rec => rec.member.status === 'alive').map(rec => rec.member.id)
  const partner = pickRandom(state.random, alive, 1)[0]
  if (partner == null) return
  state.stats.digestsSent++
  send(state, destinationOf(state, partner), { type: 'digest', ...ownDigest(state) })
}

/**
 * Catches up the members that entered our neighbourhood during an input in
 * which a neighbour left the ring (failed or left): our digest, as a
 * push-pull's, and the full exchange if our views differ. The updates this
 * node gossiped before they were neighbours went to its neighbours then and
 * left the queue; without this, a member that was nobody's neighbour when a
 * partition's verdicts went out (the run of members around it on the ring
 * were cut off) held the other side alive until a push-pull, 120 s at 250
 * members (docs/neighbourhood.md). Not for joins: a joiner syncs with its
 * seed and pushes and pulls early anyway.
 */
export function catchUpNewNeighbours (state: State, before: readonly MemberId[] | undefined): void {
  if (before == null || isSelfLeft(state)) return
  const after = ringNeighbours(state)
  if (after == null || after === before) return
  if (before.every(id => state.ring.has(id))) return
  for (const id of after) {
    if (before.includes(id) || state.members.get(id)?.member.status !== 'alive') continue
    state.stats.digestsSent++
    send(state, destinationOf(state, id), { type: 'digest', ...ownDigest(state) })
  }
}

/** This node's view's digest, from the sums the member index keeps. */
export function ownDigest (state: State): ViewDigest {
  return digestOf(state.self, state.digestSums, state.members.size)
}

/**
 * A member's push-pull digest: if our view differs, the full exchange, started
 * from our side (our state, asking for its own). A stranger's is left to
 * learnStranger, which pulls its state anyway.
 */
export function onDigest (state: State, from: MemberId, msg: Digest): void {
  if (isSelfLeft(state) || !state.members.has(from)) return
  const own = ownDigest(state)
  if (own.members === msg.members && own.hash === msg.hash) return
  state.stats.digestsDiffered++
  if (admit(state, from, true)) syncWith(state, from, 'pushPull')
}

/**
 * Partition healing (Serf's reconnect, but every few seconds rather than 30 s):
 * offer our state to one random failed member. If the network between us healed,
 * it merges our view, learns it was declared failed, and refutes; we merge its view.
 */
export function reconnect (state: State): void {
  const failed = inOrder(state.index.failed).map(rec => rec.member.id)
  syncWith(state, pickRandom(state.random, failed, 1)[0], 'reconnect')
}

function syncWith (state: State, id: MemberId | undefined, why: 'pushPull' | 'reconnect'): void {
  if (id == null) return
  countSync(state, why)
  send(state, destinationOf(state, id), { type: 'sync', reply: true, join: false, members: fullState(state) })
}

/**
 * A member we have never heard of is talking to us (its announcement was lost
 * on the way to us): pull its full state rather than wait for anti-entropy.
 */
export function learnStranger (state: State, from: MemberId, msg: Message): void {
  if (msg.type === 'sync' || isSelfLeft(state) || state.members.has(from)) return
  if (!allowOnce(state.strangers, from, state.now, state.config.joinRetryIntervalMs)) return
  countSync(state, 'stranger')
  send(state, { id: from, addrs: [] }, { type: 'sync', reply: true, join: false, members: fullState(state) })
}
