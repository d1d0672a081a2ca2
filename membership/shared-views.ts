/**
 * What the cores of one process share so that N views of N members fit in
 * memory: the simulator's (MembershipOptions.sharedViews). An agent runs one
 * core and shares nothing.
 *
 * In the simulator every one of N cores holds every member, N² (observer,
 * member) pairs: 10^8 at 10,000 members, where every 10 bytes of a pair are a
 * gigabyte. Two things each view held of its own are the same in all views:
 *
 * - the member's state (member-states.ts): one object per state of a member
 *   rather than one per view (88 bytes a pair);
 * - the member's identity in sets of ids: a small index per member id, so
 *   that a set of members that holds most of them (the partition verdicts'
 *   alive and stable sets, id-set.ts) is a bitmap rather than a hash set
 *   (about 33 bytes a pair each).
 */
import type { MemberId } from './types.ts'
import type { MemberState } from './member-states.ts'

export interface SharedViews {
  /** `state` itself, or an equal one handed out before. */
  intern: (state: MemberState) => MemberState
  /** The member's index, given on first sight and kept: 0, 1, 2, ... */
  indexOf: (id: MemberId) => number
  /** The member's index if it has one: no index is given out for a mere question. */
  find: (id: MemberId) => number | undefined
  /** The member id of an index given out by indexOf. */
  idAt: (index: number) => MemberId
}

/** States of one member kept for sharing: its last few (alive, suspect, failed of one incarnation, and one more). */
const KEPT_PER_MEMBER = 4

function sameState (a: MemberState, b: MemberState): boolean {
  return a.incarnation === b.incarnation && a.status === b.status && a.cause === b.cause && a.bootId === b.bootId &&
    a.name === b.name && a.addrs === b.addrs && a.tags === b.tags &&
    a.aliveSignedIncarnation === b.aliveSignedIncarnation && a.aliveSignature === b.aliveSignature
}

/**
 * States are compared field by field (addresses, tags and signatures by
 * identity: the simulator hands one object to every receiver, and state.ts
 * keepAddrs keeps them as received), against the last few of the member
 * handed out: one that fell out is still valid, only no longer shared with
 * later holders.
 */
export function sharedViews (): SharedViews {
  const recent = new Map<MemberId, MemberState[]>()
  const index = new Map<MemberId, number>()
  const ids: MemberId[] = []
  return {
    intern (state) {
      let list = recent.get(state.id)
      if (list == null) recent.set(state.id, list = [])
      for (const kept of list) if (sameState(kept, state)) return kept
      if (list.length >= KEPT_PER_MEMBER) list.shift()
      list.push(state)
      return state
    },
    indexOf (id) {
      let i = index.get(id)
      if (i == null) {
        i = ids.length
        ids.push(id)
        index.set(id, i)
      }
      return i
    },
    find: id => index.get(id),
    idAt: i => ids[i]
  }
}
