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
 *
 * The core keeps the sums as members change (`resum`, called by the member
 * index on every change of a record) rather than walking its view at each
 * push-pull: a digest costs the same at 10,000 members as at 10. `viewDigest`
 * computes the same value from scratch; the tests hold the two together.
 */
import { hash32 } from './hash.ts'
import type { MemberState } from './member-states.ts'

export interface ViewDigest {
  /** Members in the view, this node included. */
  members: number
  /** 53 bits: two 32-bit sums of per-member hashes, one of them truncated to 21 bits. */
  hash: number
}

const SEED_A = 0x811c9dc5
const SEED_B = 0x9e3779b9

function statusClass (m: MemberState): string {
  return m.status === 'failed' ? 'f' : m.status === 'left' ? 'l' : 'a'
}

function keyOf (m: MemberState): string {
  return `${m.id} ${m.bootId} ${m.incarnation} ${statusClass(m)}`
}

function combine (a: number, b: number, members: number): ViewDigest {
  return { members, hash: (a >>> 0) * 2 ** 21 + ((b >>> 0) >>> 11) }
}

/** The digest of this node's record and the records it holds of others, computed from scratch. */
export function viewDigest (self: MemberState, others: Iterable<{ member: MemberState }>): ViewDigest {
  let a = 0
  let b = 0
  let members = 0
  const add = (m: MemberState): void => {
    const key = keyOf(m)
    a = (a + hash32(key, SEED_A)) >>> 0
    b = (b + hash32(key, SEED_B)) >>> 0
    members++
  }
  add(self)
  for (const rec of others) add(rec.member)
  return combine(a, b, members)
}

/** The sums of the per-member hashes over the other members of a view, kept as they change (modulo 2^32, as int32). */
export interface DigestSums {
  a: number
  b: number
}

/**
 * A record's part in the sums: the member state whose hashes are in them, none
 * while it is not counted. A pointer rather than the two hashes: a field less
 * in each of 10,000 × 10,000 records of the simulator; the hashes of the state
 * it replaces are taken again when it changes.
 */
export interface DigestShare {
  member: MemberState
  summed: MemberState | undefined
}

export function createDigestSums (): DigestSums {
  return { a: 0, b: 0 }
}

/**
 * Moves `rec`'s share of `sums` to what it is now: its hashes while `present`
 * in the view, nothing once it is gone. Idempotent: call it after any change.
 */
export function resum (sums: DigestSums, rec: DigestShare, present: boolean): void {
  const next = present ? rec.member : undefined
  const was = rec.summed
  if (next === was) return
  if (was != null) {
    const key = keyOf(was)
    sums.a = (sums.a - (hash32(key, SEED_A) | 0)) | 0
    sums.b = (sums.b - (hash32(key, SEED_B) | 0)) | 0
  }
  if (next != null) {
    const key = keyOf(next)
    sums.a = (sums.a + (hash32(key, SEED_A) | 0)) | 0
    sums.b = (sums.b + (hash32(key, SEED_B) | 0)) | 0
  }
  rec.summed = next
}

/** The view's digest from the kept sums: this node's record, and the `others` members they cover. */
export function digestOf (self: MemberState, sums: DigestSums, others: number): ViewDigest {
  const key = keyOf(self)
  return combine(sums.a + hash32(key, SEED_A), sums.b + hash32(key, SEED_B), others + 1)
}
