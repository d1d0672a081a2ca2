/**
 * Who a member talks to: a bounded neighbourhood instead of every member.
 *
 * Classic SWIM probes every member in turn and gossips to random members, so
 * over time each node holds a connection to every other one; on libp2p a
 * connection costs a noise handshake, a yamux session and identify (docs/scale.md),
 * and that cost grows with N. Here, as in Akka Cluster's heartbeat ring and
 * Rapid's K-ring, live members sit on a ring ordered by a hash of their id (the
 * same order in every view, whatever order members were learned in):
 *
 * - a member probes its `probeNeighbors` successors, so each member is probed by
 *   as many predecessors: the probe load per member stays one per interval and the
 *   first probe of a crashed member still comes within about one interval; a
 *   suspect successor does not count among them (it is probed, and so is the
 *   member behind it), so that a run of members lost together, a partition's,
 *   is probed in one interval rather than a suspicion timeout per
 *   `probeNeighbors` of them;
 * - it gossips to, pushes and pulls with, and asks for indirect probes among its
 *   successors, its predecessors and `longLinks` members picked by hash across
 *   the ring: the links make the gossip graph an expander (a few hops from anyone
 *   to anyone), the ring keeps it connected;
 * - members that fail leave the ring, so the members behind them move up: a
 *   partition is detected side by side as in SWIM, only faster per member.
 *
 * So a member holds about 2 × probeNeighbors + longLinks connections (plus the
 * long links of others that land on it) at any N. `probeNeighbors: 0` turns it
 * off: every live member is a probe and gossip target, as in memberlist; and so
 * it is while a cluster is small enough that the neighbourhood would hold everyone.
 */
import type { MemberId } from './types.ts'
import { hash32 as ringKey } from './hash.ts'

/**
 * A ring's members in order, as two parallel arrays rather than a `{ key, id }`
 * object each: every member of a view is on its ring, and at 10,000 members
 * in the simulator (10,000 views) an object and a set entry per position
 * were about 80 bytes of each (observer, member) pair; this is 16.
 */
interface Positions { keys: number[], ids: MemberId[] }

/** True when (keyA, idA) comes before (keyB, idB) on the ring. */
function before (keyA: number, idA: MemberId, keyB: number, idB: MemberId): boolean {
  return keyA < keyB || (keyA === keyB && idA < idB)
}

function compare (keyA: number, idA: MemberId, keyB: number, idB: MemberId): number {
  return before(keyA, idA, keyB, idB) ? -1 : before(keyB, idB, keyA, idA) ? 1 : 0
}

/** A sort order of member ids: the ring's (Ring.addAll takes ids given in it in one pass). */
export function ringOrder (a: MemberId, b: MemberId): number {
  return compare(ringKey(a), a, ringKey(b), b)
}

/** The live members other than this node, ordered by ring key; kept sorted as members come and go. */
export class Ring {
  readonly #selfId: MemberId
  readonly #selfKey: number
  readonly #ring: Positions = { keys: [], ids: [] }
  #version = 0
  #cached?: { version: number, successors: number, longLinks: number, neighbours: MemberId[] }

  constructor (selfId: MemberId) {
    this.#selfId = selfId
    this.#selfKey = ringKey(selfId)
  }

  get size (): number {
    return this.#ring.ids.length
  }

  /** True when `id` is on the ring (a live member other than this node). O(log N). */
  has (id: MemberId): boolean {
    return this.#indexOf(id) >= 0
  }

  #indexOf (id: MemberId): number {
    const at = lowerBound(this.#ring, ringKey(id), id)
    return this.#ring.ids[at] === id ? at : -1
  }

  /**
   * Puts every one of `ids` on the ring at once: one sort (linear when they
   * come in ring order) rather than a memmove per member, which at 10,000
   * members known from the start (MembershipOptions.knownMembers) would be
   * 10,000 memmoves of up to 10,000 positions per core.
   */
  addAll (ids: Iterable<MemberId>): void {
    const all: Array<{ key: number, id: MemberId }> = this.#ring.ids.map((id, i) => ({ key: this.#ring.keys[i], id }))
    const present = new Set(this.#ring.ids)
    for (const id of ids) {
      if (id === this.#selfId || present.has(id)) continue
      all.push({ key: ringKey(id), id })
      present.add(id)
    }
    all.sort((a, b) => compare(a.key, a.id, b.key, b.id))
    this.#ring.keys = all.map(p => p.key)
    this.#ring.ids = all.map(p => p.id)
    this.#version++
  }

  /** Puts `id` on the ring when `live`, takes it off otherwise. O(log N) to find, a memmove to insert. */
  sync (id: MemberId, live: boolean): void {
    if (id === this.#selfId) return
    const key = ringKey(id)
    const at = lowerBound(this.#ring, key, id)
    const present = this.#ring.ids[at] === id
    if (live === present) return
    if (live) {
      this.#ring.keys.splice(at, 0, key)
      this.#ring.ids.splice(at, 0, id)
    } else {
      this.#ring.keys.splice(at, 1)
      this.#ring.ids.splice(at, 1)
    }
    this.#version++
  }

  /**
   * The members after this node on the ring up to the `count`th one that
   * `passOver` does not pass over; those it passes over on the way are
   * included, and not counted.
   */
  successors (count: number, passOver: (id: MemberId) => boolean = () => false): MemberId[] {
    const ids = this.#ring.ids
    const from = lowerBound(this.#ring, this.#selfKey, this.#selfId)
    const n = ids.length
    const out: MemberId[] = []
    for (let k = 0, counted = 0; k < n && counted < count; k++) {
      const id = ids[(from + k) % n]
      out.push(id)
      if (!passOver(id)) counted++
    }
    return out
  }

  /**
   * Successors, predecessors and long links together, without repeats: the
   * members this node gossips to and syncs with. Cached until the ring changes.
   */
  neighbours (successors: number, longLinks: number): MemberId[] {
    const c = this.#cached
    if (c != null && c.version === this.#version && c.successors === successors && c.longLinks === longLinks) return c.neighbours
    const neighbours = neighbourhood(this.#ring, this.#selfKey, this.#selfId, successors, longLinks)
    this.#cached = { version: this.#version, successors, longLinks, neighbours }
    return neighbours
  }

  /**
   * True when `id` has this node in its neighbourhood, as this node sees the
   * ring (the ring `id` sees: this one with this node on it and `id` off it).
   * Successors and predecessors are mutual, long links are not: a member is
   * the long link of others that do not know it as theirs. O(N).
   */
  inNeighbourhoodOf (id: MemberId, successors: number, longLinks: number): boolean {
    const at = this.#indexOf(id)
    if (at < 0) return false
    const theirs: Positions = { keys: [...this.#ring.keys], ids: [...this.#ring.ids] }
    theirs.keys.splice(at, 1)
    theirs.ids.splice(at, 1)
    const self = lowerBound(theirs, this.#selfKey, this.#selfId)
    theirs.keys.splice(self, 0, this.#selfKey)
    theirs.ids.splice(self, 0, this.#selfId)
    return neighbourhood(theirs, ringKey(id), id, successors, longLinks).includes(this.#selfId)
  }

  /**
   * The other members among the `count` just before `id` on the ring: those
   * that probe `id` besides this node, as far as this node's view goes.
   */
  predecessorsOf (id: MemberId, count: number): MemberId[] {
    const at = this.#indexOf(id)
    if (at < 0) return []
    // this node is not on its own ring: when it is one of them, one fewer
    const others = this.successors(count).includes(id) ? count - 1 : count
    return walk(this.#ring, at - 1, others, -1).filter(other => other !== id)
  }
}

/**
 * The neighbourhood of the member (`ownerKey`, `ownerId`) on `ring` (sorted,
 * without the owner): its successors, predecessors and long links, without
 * repeats.
 */
function neighbourhood (ring: Positions, ownerKey: number, ownerId: MemberId, successors: number, longLinks: number): MemberId[] {
  const n = ring.ids.length
  const at = lowerBound(ring, ownerKey, ownerId)
  const picked = new Set(walk(ring, at, successors, 1))
  for (const id of walk(ring, at - 1, successors, -1)) picked.add(id)
  for (let i = 1; i <= longLinks && picked.size < n; i++) {
    // The first member at or after a point hashed from the owner's id and i that is not picked yet.
    const start = lowerBound(ring, ringKey(`${ownerId}/${i}`), '')
    for (let k = 0; k < n; k++) {
      const id = ring.ids[(start + k) % n]
      if (!picked.has(id)) { picked.add(id); break }
    }
  }
  return [...picked]
}

/** Up to `count` ids of `ring` from index `from`, stepping by `step` around it. */
function walk (ring: Positions, from: number, count: number, step: 1 | -1): MemberId[] {
  const n = ring.ids.length
  const out: MemberId[] = []
  for (let k = 0; k < Math.min(count, n); k++) out.push(ring.ids[(((from + k * step) % n) + n) % n])
  return out
}

/** Index of the first position of `ring` not before (`key`, `id`). */
function lowerBound (ring: Positions, key: number, id: MemberId): number {
  let lo = 0
  let hi = ring.ids.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (before(ring.keys[mid], ring.ids[mid], key, id)) lo = mid + 1
    else hi = mid
  }
  return lo
}
