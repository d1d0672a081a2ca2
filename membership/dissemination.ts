/**
 * Spreading updates: the periodic gossip round, and the direct messages that
 * do not wait for it: a member we accuse is told so, a sender that accuses an
 * incarnation of us we already refuted is sent our announcement.
 */
import type { MemberId } from './types.ts'
import { pickRandom } from './random.ts'
import { accusationOf, aliveUpdate, destinationOf, gossipCandidates, isSelfLeft, piggyback, send, type State } from './state.ts'
import { allowOnce } from './bounded-map.ts'

export function gossipRound (state: State): void {
  const targets = state.broadcasts.size === 0 ? [] : gossipTargets(state)
  for (const id of targets) {
    const updates = piggyback(state, id)
    if (updates.length > 0) send(state, destinationOf(state, id), { type: 'gossip', updates })
    if (state.broadcasts.size === 0) break
  }
  // The news this round did not send (no one to send it to) no longer hurries the next one.
  state.broadcasts.roundDone()
}

/**
 * Every candidate that lacks news queued since the last round (a verdict, a
 * join through this node), then up to gossipNodes in all, those that lack the
 * update going out next first: a new update reaches every neighbour in a few
 * rounds rather than at random, and news in one round, so that it spreads in
 * hops rather than rounds for no more messages (each neighbour is sent an
 * update once either way). Not so for every update: in a join storm, fewer
 * updates a message would mean more messages (measured, docs/scale.md).
 */
function gossipTargets (state: State): MemberId[] {
  const candidates = gossipCandidates(state)
  const k = state.config.gossipNodes
  const lackingNews = state.broadcasts.lackingNews(candidates)
  const picked = new Set(lackingNews)
  const first = lackingNews.concat(pickRandom(state.random, state.broadcasts.lacking(candidates).filter(id => !picked.has(id)), k - lackingNews.length))
  if (first.length >= k) return first
  for (const id of first) picked.add(id)
  return first.concat(pickRandom(state.random, candidates.filter(id => !picked.has(id)), k - first.length))
}

/** A member we hold suspect or failed is talking to us: tell it, so that it can refute at once. */
export function tellAccused (state: State, from: MemberId): void {
  if (isSelfLeft(state)) return
  const rec = state.members.get(from)
  if (rec == null) return
  const accusation = accusationOf(state, rec.member)
  if (accusation == null || !allowOnce(state.toldAccused, from, state.now, state.config.gossipIntervalMs)) return
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
