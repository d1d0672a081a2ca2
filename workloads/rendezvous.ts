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

const FNV64_OFFSET = 0xcbf29ce484222325n
const FNV64_PRIME = 0x100000001b3n
const MASK64 = 0xffffffffffffffffn
const encoder = new TextEncoder()

/** FNV-1a 64-bit of the UTF-8 bytes of `text`, as an unsigned BigInt. */
export function fnv1a64 (text: string): bigint {
  let hash = FNV64_OFFSET
  for (const byte of encoder.encode(text)) {
    hash ^= BigInt(byte)
    hash = (hash * FNV64_PRIME) & MASK64
  }
  return hash
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
