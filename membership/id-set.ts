/**
 * A set of member ids: a `Set` in an agent, a bitmap over the shared member
 * indices in the simulator (shared-views.ts), where a set that holds most
 * members of each of 10,000 views would take 3.3 GB as hash sets and 12.5 MB
 * as bitmaps. Iterated in index order, not insertion order: for sets whose
 * order nobody reads.
 */
import type { MemberId } from './types.ts'
import type { SharedViews } from './shared-views.ts'

export interface IdSet extends Iterable<MemberId> {
  readonly size: number
  has: (id: MemberId) => boolean
  add: (id: MemberId) => unknown
  delete: (id: MemberId) => boolean
}

export function idSet (shared: SharedViews | undefined, ids: Iterable<MemberId> = []): IdSet {
  const set: IdSet = shared == null ? new Set<MemberId>() : new BitIdSet(shared)
  for (const id of ids) set.add(id)
  return set
}

class BitIdSet implements IdSet {
  readonly #shared: SharedViews
  #words = new Uint32Array(0)
  #size = 0

  constructor (shared: SharedViews) {
    this.#shared = shared
  }

  get size (): number {
    return this.#size
  }

  has (id: MemberId): boolean {
    const i = this.#shared.find(id)
    return i != null && ((this.#words[i >>> 5] ?? 0) & (1 << (i & 31))) !== 0
  }

  add (id: MemberId): this {
    const i = this.#shared.indexOf(id)
    const w = i >>> 5
    if (w >= this.#words.length) {
      const grown = new Uint32Array(Math.max(w + 1, this.#words.length * 2))
      grown.set(this.#words)
      this.#words = grown
    }
    const bit = 1 << (i & 31)
    if ((this.#words[w] & bit) === 0) {
      this.#words[w] |= bit
      this.#size++
    }
    return this
  }

  delete (id: MemberId): boolean {
    const i = this.#shared.find(id)
    const bit = i == null ? 0 : 1 << (i & 31)
    if (i == null || ((this.#words[i >>> 5] ?? 0) & bit) === 0) return false
    this.#words[i >>> 5] &= ~bit
    this.#size--
    return true
  }

  * [Symbol.iterator] (): Iterator<MemberId> {
    const words = this.#words
    for (let w = 0; w < words.length; w++) {
      for (let bits = words[w]; bits !== 0; bits &= bits - 1) {
        yield this.#shared.idAt(w * 32 + (31 - Math.clz32(bits & -bits)))
      }
    }
  }
}
