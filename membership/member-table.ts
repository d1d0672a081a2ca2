/**
 * A view's records by member id: a `Map` in an agent; in the simulator
 * (shared-views.ts) an array by the shared member index, with the records in
 * the order they were added beside it. A hash map entry per member was about
 * 46 bytes of each (observer, member) pair at 10,000 members; this is 20.
 *
 * Only what the core uses of a Map, with a Map's order: iteration in the
 * order of addition, a record replaced in place keeping its place.
 */
import type { MemberId } from './types.ts'
import type { SharedViews } from './shared-views.ts'

export interface MemberTable<R> {
  readonly size: number
  get: (id: MemberId) => R | undefined
  has: (id: MemberId) => boolean
  set: (id: MemberId, record: R) => unknown
  delete: (id: MemberId) => boolean
  values: () => Iterable<R>
  keys: () => Iterable<MemberId>
}

export function memberTable<R> (shared: SharedViews | undefined): MemberTable<R> {
  return shared == null ? new Map<MemberId, R>() : new IndexedTable<R>(shared)
}

/** No position: the member is not in the table. */
const ABSENT = -1

class IndexedTable<R> implements MemberTable<R> {
  readonly #shared: SharedViews
  /** Records by member index. */
  #byIndex: Array<R | undefined> = []
  /** Per member index, the record's place in #order (ABSENT when none). */
  #place = new Int32Array(0)
  /** Member indices in the order they were added, the first #used of them; ABSENT where one was deleted. */
  #order = new Int32Array(0)
  #used = 0
  #size = 0

  constructor (shared: SharedViews) {
    this.#shared = shared
  }

  get size (): number {
    return this.#size
  }

  #indexOf (id: MemberId): number | undefined {
    return this.#shared.find(id)
  }

  get (id: MemberId): R | undefined {
    const i = this.#indexOf(id)
    return i == null ? undefined : this.#byIndex[i]
  }

  has (id: MemberId): boolean {
    return this.get(id) !== undefined
  }

  set (id: MemberId, record: R): this {
    const i = this.#shared.indexOf(id)
    // Grown by appending, so that the array stays dense whatever order indices come in.
    while (this.#byIndex.length <= i) this.#byIndex.push(undefined)
    if (this.#byIndex[i] === undefined) {
      if (i >= this.#place.length) {
        const grown = new Int32Array(Math.max(i + 1, this.#place.length * 2)).fill(ABSENT)
        grown.set(this.#place)
        this.#place = grown
      }
      if (this.#used === this.#order.length) {
        const grown = new Int32Array(Math.max(16, this.#order.length * 2))
        grown.set(this.#order)
        this.#order = grown
      }
      this.#place[i] = this.#used
      this.#order[this.#used++] = i
      this.#size++
    }
    this.#byIndex[i] = record
    return this
  }

  delete (id: MemberId): boolean {
    const i = this.#indexOf(id)
    if (i == null || this.#byIndex[i] === undefined) return false
    this.#byIndex[i] = undefined
    this.#order[this.#place[i]] = ABSENT
    this.#place[i] = ABSENT
    this.#size--
    // Holes are skipped by iteration; once they outnumber the members, close them.
    if (this.#used > 2 * this.#size + 16) this.#compact()
    return true
  }

  #compact (): void {
    let used = 0
    for (let k = 0; k < this.#used; k++) {
      const i = this.#order[k]
      if (i === ABSENT) continue
      this.#place[i] = used
      this.#order[used++] = i
    }
    this.#used = used
  }

  /** The member indices in order, skipping deleted ones; additions during the walk are walked too, as a Map's are. */
  * #indices (): Generator<number> {
    for (let k = 0; k < this.#used; k++) {
      const i = this.#order[k]
      if (i !== ABSENT) yield i
    }
  }

  * values (): Iterable<R> {
    for (const i of this.#indices()) {
      const record = this.#byIndex[i]
      if (record !== undefined) yield record
    }
  }

  * keys (): Iterable<MemberId> {
    for (const i of this.#indices()) yield this.#shared.idAt(i)
  }
}
