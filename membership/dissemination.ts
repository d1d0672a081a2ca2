/**
 * Spreading updates: the periodic gossip round, and the direct messages that
 * do not wait for it: a member we accuse is told so, a sender that accuses an
 * incarnation of us we already refuted is sent our announcement.
 */
import type { MemberId } from './types.ts'
import { pickRandom } from './random.ts'
import { accusationOf, aliveUpdate, allowOnce, destinationOf, isLive, isSelfLeft, piggyback, ringNeighbours, send, type State } from './state.ts'

export function gossipRound (state: State): void {
  // The verdicts this round does not send (no one to send them to) no longer hurry the next one.
  state.broadcasts.roundDone()
  if (state.broadcasts.size === 0) return
  for (const id of pickRandom(state.random, gossipCandidates(state), state.config.gossipNodes)) {
    const updates = piggyback(state)
    if (updates.length === 0) break
    send(state, destinationOf(state, id), { type: 'gossip', updates })
  }
}

/**
 * Whom a gossip round picks from: the ring neighbourhood; or, without the ring,
 * every live member and the recently failed ones (so that a live one can learn
 * it was declared failed; with the ring, its own probes of its successors tell it).
 */
function gossipCandidates (state: State): MemberId[] {
  const ring = ringNeighbours(state)
  if (ring != null) return ring
  const candidates: MemberId[] = []
  for (const rec of state.members.values()) {
    const m = rec.member
    if (isLive(m) || (m.status === 'failed' && state.now - m.statusSince < state.config.gossipToTheDeadMs)) candidates.push(m.id)
  }
  return candidates
}

/** A member we hold suspect or failed is talking to us: tell it, so that it can refute at once. */
export function tellAccused (state: State, from: MemberId): void {
  if (isSelfLeft(state)) return
  const rec = state.members.get(from)
  if (rec == null) return
  const accusation = accusationOf(state, rec.member)
  if (accusation == null || (rec.lastToldAt != null && state.now - rec.lastToldAt < state.config.gossipIntervalMs)) return
  rec.lastToldAt = state.now
  send(state, destinationOf(state, from), { type: 'gossip', updates: [accusation] })
}

/**
 * The sender still accuses an incarnation of us that we already refuted: the
 * refutation missed it, so send it our announcement directly, before its own
 * suspicion timer declares us failed.
 */
export function correctSender (state: State, from: MemberId): void {
  if (!allowOnce(state.corrected, from, state.now, state.config.gossipIntervalMs)) return
  send(state, destinationOf(state, from), { type: 'gossip', updates: [aliveUpdate(state, state.self)] })
}
