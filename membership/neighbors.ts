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

interface Position { key: number, id: MemberId }

function before (a: Position, b: Position): boolean {
  return a.key < b.key || (a.key === b.key && a.id < b.id)
}

/** The live members other than this node, ordered by ring key; kept sorted as members come and go. */
export class Ring {
  readonly #self: Position
  readonly #ring: Position[] = []
  readonly #present = new Set<MemberId>()
  #version = 0
  #cached?: { version: number, successors: number, longLinks: number, neighbours: MemberId[] }

  constructor (selfId: MemberId) {
    this.#self = { key: ringKey(selfId), id: selfId }
  }

  get size (): number {
    return this.#ring.length
  }

  /** True when `id` is on the ring (a live member other than this node). */
  has (id: MemberId): boolean {
    return this.#present.has(id)
  }

  /** Puts `id` on the ring when `live`, takes it off otherwise. O(log N) to find, a memmove to insert. */
  sync (id: MemberId, live: boolean): void {
    if (id === this.#self.id || live === this.#present.has(id)) return
    const pos = { key: ringKey(id), id }
    const at = lowerBound(this.#ring, pos)
    if (live) {
      this.#ring.splice(at, 0, pos)
      this.#present.add(id)
    } else {
      this.#ring.splice(at, 1)
      this.#present.delete(id)
    }
    this.#version++
  }

  /**
   * The members after this node on the ring up to the `count`th one that
   * `passOver` does not pass over; those it passes over on the way are
   * included, and not counted.
   */
  successors (count: number, passOver: (id: MemberId) => boolean = () => false): MemberId[] {
    const from = lowerBound(this.#ring, this.#self)
    const n = this.#ring.length
    const out: MemberId[] = []
    for (let k = 0, counted = 0; k < n && counted < count; k++) {
      const id = this.#ring[(from + k) % n].id
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
    const neighbours = neighbourhood(this.#ring, this.#self, successors, longLinks)
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
    if (!this.#present.has(id)) return false
    const theirs = this.#ring.filter(p => p.id !== id)
    theirs.splice(lowerBound(theirs, this.#self), 0, this.#self)
    return neighbourhood(theirs, { key: ringKey(id), id }, successors, longLinks).includes(this.#self.id)
  }

  /**
   * The other members among the `count` just before `id` on the ring: those
   * that probe `id` besides this node, as far as this node's view goes.
   */
  predecessorsOf (id: MemberId, count: number): MemberId[] {
    if (!this.#present.has(id)) return []
    const at = lowerBound(this.#ring, { key: ringKey(id), id })
    // this node is not on its own ring: when it is one of them, one fewer
    const others = this.successors(count).includes(id) ? count - 1 : count
    return walk(this.#ring, at - 1, others, -1).filter(other => other !== id)
  }
}

/**
 * The neighbourhood of `owner` on `ring` (sorted by position, without
 * `owner`): its successors, predecessors and long links, without repeats.
 */
function neighbourhood (ring: Position[], owner: Position, successors: number, longLinks: number): MemberId[] {
  const at = lowerBound(ring, owner)
  const picked = new Set(walk(ring, at, successors, 1))
  for (const id of walk(ring, at - 1, successors, -1)) picked.add(id)
  for (let i = 1; i <= longLinks && picked.size < ring.length; i++) {
    // The first member at or after a point hashed from the owner's id and i that is not picked yet.
    const start = lowerBound(ring, { key: ringKey(`${owner.id}/${i}`), id: '' })
    for (let k = 0; k < ring.length; k++) {
      const id = ring[(start + k) % ring.length].id
      if (!picked.has(id)) { picked.add(id); break }
    }
  }
  return [...picked]
}

/** Up to `count` ids of `ring` from index `from`, stepping by `step` around it. */
function walk (ring: Position[], from: number, count: number, step: 1 | -1): MemberId[] {
  const n = ring.length
  const out: MemberId[] = []
  for (let k = 0; k < Math.min(count, n); k++) out.push(ring[(((from + k * step) % n) + n) % n].id)
  return out
}

/** Index of the first position of `ring` not before `pos`. */
function lowerBound (ring: Position[], pos: Position): number {
  let lo = 0
  let hi = ring.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (before(ring[mid], pos)) lo = mid + 1
    else hi = mid
  }
  return lo
}
