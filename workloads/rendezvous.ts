/**
 * Weighted rendezvous (highest random weight) hashing: pure formulas.
 *
 * For a key (a task id, a job id) every member gets the score
 * `-weight / ln(u)` with `u` in (0, 1) drawn from a stable hash of
 * (key, member id). The member with the highest score wins; a member wins
 * keys in proportion to its weight, and when a member leaves only its keys
 * move. Every node that sees the same members and weights computes the same
 * ranking: no coordination needed.
 */
import type { MemberId } from './types.ts'

const MASK64 = 0xffffffffffffffffn
const encoder = new TextEncoder()

/**
 * FNV-1a 64-bit of the UTF-8 bytes of `text`, as an unsigned BigInt. Computed
 * on four 16-bit limbs with small-integer arithmetic (the prime is
 * 2^40 + 435), many times faster than BigInt per byte: a worker ranks itself
 * for every task offered to it.
 */
export function fnv1a64 (text: string): bigint {
  let h0 = 0x2325
  let h1 = 0x8422
  let h2 = 0x9ce4
  let h3 = 0xcbf2
  for (const byte of encoder.encode(text)) {
    h0 ^= byte
    const t0 = h0 * 435
    let t1 = h1 * 435
    let t2 = h2 * 435 + (h0 << 8)
    const t3 = h3 * 435 + (h1 << 8)
    t1 += t0 >>> 16
    h0 = t0 & 0xffff
    t2 += t1 >>> 16
    h1 = t1 & 0xffff
    h3 = (t3 + (t2 >>> 16)) & 0xffff
    h2 = t2 & 0xffff
  }
  return (BigInt(h3 * 0x10000 + h2) << 32n) | BigInt(h1 * 0x10000 + h0)
}

/** A 64-bit finaliser (splitmix64) so that near keys spread over the whole range. */
function mix64 (x: bigint): bigint {
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & MASK64
  return x ^ (x >> 31n)
}

/** A stable uniform number in (0, 1) for (key, member): the top 53 bits of the mixed hash. */
export function unitHash (key: string, member: MemberId): number {
  const bits = mix64(fnv1a64(`${key}\u0000${member}`)) >> 11n
  return (Number(bits) + 0.5) / 2 ** 53
}

/** The score of a member for a key. Weight <= 0 scores 0 (never wins against a positive weight). */
export function score (key: string, member: MemberId, weight: number): number {
  if (!(weight > 0)) return 0
  return -weight / Math.log(unitHash(key, member))
}

export interface Candidate {
  id: MemberId
  weight: number
}

/** Candidates ranked for `key`, best first; ties broken by id so the order is total. */
export function rank (key: string, candidates: readonly Candidate[]): MemberId[] {
  return candidates
    .map(c => ({ id: c.id, s: score(key, c.id, c.weight) }))
    .sort((a, b) => (b.s - a.s) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map(c => c.id)
}

/** Position of `member` in the ranking for `key` (0 = owner), or -1 if it is not a candidate. */
export function rankOf (key: string, candidates: readonly Candidate[], member: MemberId): number {
  return rank(key, candidates).indexOf(member)
}

/**
 * The claim weight of a member with `free` free slots. A full member keeps a
 * small weight so that if every member is full the owner is still defined.
 */
export function claimWeight (free: number): number {
  return Math.max(0, free) + 1 / 16
}

/** The key that rendezvous hashing ranks for a task. */
export function taskKey (jobId: string, index: number): string {
  return `${jobId}/${index}`
}
