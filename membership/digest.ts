/**
 * A digest of a view, for anti-entropy that costs nothing while views agree.
 *
 * Push-pull used to send the full state to a neighbour every push-pull
 * interval and get the neighbour's back: O(N) bytes and O(N) work per member
 * per round, for a round that almost always finds the two views equal. Now
 * the initiator sends this digest (a few bytes); the receiver compares it
 * with its own and starts the full exchange only when they differ
 * (sync.ts `onDigest`).
 *
 * The digest covers what anti-entropy repairs: which members a view holds,
 * with which boot and incarnation, and whether each is live, failed or left.
 * Suspicion is left out (alive and suspect hash alike): it is a transient
 * opinion that a full sync would not settle, and two views that differ only
 * in it should not pay for one. Names, addresses and tags are covered through
 * the incarnation, which a member raises whenever it changes them.
 *
 * Two independent 32-bit hashes of each member, summed over the view (the
 * order members were learned in does not matter), and the count. Views that
 * differ match by accident with a chance of about 2^-53 per round; a member
 * cannot forge another's record to make that happen (the records are signed),
 * and a missed round is caught by the next one or by gossip.
 */
import { hash32 } from './hash.ts'
import type { Member } from './types.ts'

export interface ViewDigest {
  /** Members in the view, this node included. */
  members: number
  /** 53 bits: two 32-bit sums of per-member hashes, one of them truncated to 21 bits. */
  hash: number
}

const SEED_A = 0x811c9dc5
const SEED_B = 0x9e3779b9

function statusClass (m: Member): string {
  return m.status === 'failed' ? 'f' : m.status === 'left' ? 'l' : 'a'
}

/** The digest of this node's record and the records it holds of others. */
export function viewDigest (self: Member, others: Iterable<{ member: Member }>): ViewDigest {
  let a = 0
  let b = 0
  let members = 0
  const add = (m: Member): void => {
    const key = `${m.id} ${m.bootId} ${m.incarnation} ${statusClass(m)}`
    a = (a + hash32(key, SEED_A)) >>> 0
    b = (b + hash32(key, SEED_B)) >>> 0
    members++
  }
  add(self)
  for (const rec of others) add(rec.member)
  return { members, hash: a * 2 ** 21 + (b >>> 11) }
}
