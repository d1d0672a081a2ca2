/**
 * Members a core knows from its creation (MembershipOptions.knownMembers).
 *
 * For the simulator at scale: a cluster of 10,000 that starts settled, every
 * view full and nothing left to spread, rather than replaying a mass join to
 * get there. A join's news is gossiped by every member `retransmitLimit` times,
 * N² × that many deliveries in all (at 2,000 members the boot alone took
 * minutes of simulation), for a state whose shape is known: each member
 * alive, at the incarnation and with the signature it announced.
 *
 * Each is recorded as a join's sync would record it, but is no news: no
 * member event, nothing queued for gossip. Signatures are not checked: the
 * embedder that lists the members vouches for them.
 */
import type { KnownMember } from './index.ts'
import type { MemberId } from './types.ts'
import { newRecord, type State } from './state.ts'
import { track } from './member-index.ts'
import { insertIntoProbeOrder } from './merge.ts'
import { countLearnedAlive } from './partition-tracking.ts'

export function learnKnownMembers (state: State, known: ReadonlyArray<KnownMember>): void {
  const learned: MemberId[] = []
  for (const a of known) {
    if (a.id === state.self.id || state.members.has(a.id)) continue
    const rec = newRecord(state, a, a.signature)
    state.members.set(a.id, rec)
    track(state, rec)
    learned.push(a.id)
  }
  // The ring first: with it in use, the probe round is taken from it and the probe order stays empty.
  state.ring.addAll(learned)
  for (const id of learned) insertIntoProbeOrder(state, id)
  // The partition verdicts learn members from their events (partition-tracking.ts): these had none.
  countLearnedAlive(state, learned)
}
