/**
 * Every node's view of every node, kept from the member events as they are
 * emitted: one byte per (observer, member) pair and a few running counts, so
 * that "has everyone seen it" is answered without asking N cores about N
 * members (N² copies per question at 10,000 members).
 */
import type { MemberEvent, MemberId } from '../../membership/index.ts'
import type { ObservedEvent } from '../../testkit/sim/cluster.ts'

export const UNKNOWN = 0
export const ALIVE = 1
export const SUSPECT = 2
export const FAILED = 3
export const LEFT = 4
/** Added to FAILED when the cause is `partition`. */
export const PARTITION = 8
/** Side of a node that is on neither side of a partition (it was down before the cut). */
export const NO_SIDE = 255

const STATUS: Record<string, number> = { alive: ALIVE, suspect: SUSPECT, failed: FAILED, left: LEFT }

export type ChangeListener = (o: number, a: number, prev: number, next: number, e: ObservedEvent) => void

export class Views {
  readonly n: number
  readonly ids: readonly MemberId[]
  readonly index = new Map<MemberId, number>()
  /** View codes, observer-major: status[o * n + a]. */
  readonly status: Uint8Array
  /** Per observer: up members it sees alive. */
  readonly aliveSeen: Int32Array
  /** Per member: observers that are up and see it failed. */
  readonly failedSeen: Int32Array
  /** Per node: 1 while it runs (crashed and left nodes are not observers). */
  readonly up: Uint8Array
  upCount: number
  /** Per node: its side during a partition (0 or 1; NO_SIDE for a node on neither), or undefined. */
  side?: Uint8Array
  /** Per observer: members of the other side it sees failed with cause `partition`. */
  readonly crossPartitioned: Int32Array
  /** Incarnation last seen per pair (only with trackIncarnations): an invariant is that it never decreases. */
  readonly incarnations?: Float64Array
  readonly violations: string[] = []
  readonly #listeners: ChangeListener[] = []

  constructor (ids: readonly MemberId[], opts: { trackIncarnations?: boolean } = {}) {
    this.n = ids.length
    this.ids = ids
    ids.forEach((id, i) => this.index.set(id, i))
    this.status = new Uint8Array(this.n * this.n)
    this.aliveSeen = new Int32Array(this.n)
    this.failedSeen = new Int32Array(this.n)
    this.up = new Uint8Array(this.n).fill(1)
    this.upCount = this.n
    this.crossPartitioned = new Int32Array(this.n)
    if (opts.trackIncarnations === true) this.incarnations = new Float64Array(this.n * this.n).fill(-1)
  }

  /** Every up node sees every other alive: a cluster started settled (SimCluster startSettled), which emits no events for it. */
  allAlive (): void {
    for (let o = 0; o < this.n; o++) {
      this.status.fill(ALIVE, o * this.n, (o + 1) * this.n)
      this.status[o * this.n + o] = UNKNOWN
      if (this.incarnations != null) {
        this.incarnations.fill(0, o * this.n, (o + 1) * this.n)
        this.incarnations[o * this.n + o] = -1
      }
    }
    this.aliveSeen.fill(this.n - 1)
  }

  onChange (listener: ChangeListener): void {
    this.#listeners.push(listener)
  }

  /** The cluster's event hook. */
  readonly observe = (e: ObservedEvent): void => {
    const o = this.index.get(e.observer)
    const a = this.index.get(e.event.member.id)
    if (o == null || a == null) return
    if (o === a) this.violations.push(`${e.observer} emitted ${e.event.type} about itself at ${e.at} ms`)
    const at = o * this.n + a
    if (this.incarnations != null && e.event.type !== 'member:reap') {
      const inc = e.event.member.incarnation
      if (inc < this.incarnations[at]) {
        this.violations.push(`${e.observer} saw ${e.event.member.id} go from incarnation ${this.incarnations[at]} to ${inc} at ${e.at} ms`)
      }
      this.incarnations[at] = inc
    }
    const prev = this.status[at]
    const next = codeOf(e.event)
    if (prev !== next) {
      this.status[at] = next
      this.#count(o, a, prev, -1)
      this.#count(o, a, next, 1)
    }
    for (const listener of this.#listeners) listener(o, a, prev, next, e)
  }

  #count (o: number, a: number, code: number, delta: number): void {
    if (code === ALIVE && this.up[a] === 1) this.aliveSeen[o] += delta
    if ((code & 7) === FAILED && this.up[o] === 1) this.failedSeen[a] += delta
    if (code === FAILED + PARTITION && this.#across(o, a)) this.crossPartitioned[o] += delta
  }

  /** Node `i` stopped (crash or leave): its view no longer counts. */
  down (i: number): void {
    if (this.up[i] === 0) return
    const row = i * this.n
    for (let a = 0; a < this.n; a++) if ((this.status[row + a] & 7) === FAILED) this.failedSeen[a]--
    for (let o = 0; o < this.n; o++) if (this.status[o * this.n + i] === ALIVE) this.aliveSeen[o]--
    this.up[i] = 0
    this.upCount--
  }

  /** Node `i` was restarted: a new process that knows nobody yet, at a new incarnation 0. */
  revive (i: number): void {
    if (this.up[i] === 1) return
    const row = i * this.n
    this.status.fill(UNKNOWN, row, row + this.n)
    this.aliveSeen[i] = 0
    if (this.incarnations != null) {
      this.incarnations.fill(-1, row, row + this.n)
      for (let o = 0; o < this.n; o++) this.incarnations[o * this.n + i] = -1
    }
    this.up[i] = 1
    this.upCount++
    for (let o = 0; o < this.n; o++) if (this.up[o] === 1 && this.status[o * this.n + i] === ALIVE) this.aliveSeen[o]++
  }

  /** Sets (or clears) the sides of a partition and recounts crossPartitioned. */
  setSides (side: Uint8Array | undefined): void {
    this.side = side
    this.crossPartitioned.fill(0)
    if (side == null) return
    for (let o = 0; o < this.n; o++) {
      const row = o * this.n
      for (let a = 0; a < this.n; a++) {
        if (this.status[row + a] === FAILED + PARTITION && this.#across(o, a)) this.crossPartitioned[o]++
      }
    }
  }

  #across (o: number, a: number): boolean {
    const side = this.side
    return side != null && side[o] !== NO_SIDE && side[a] !== NO_SIDE && side[o] !== side[a]
  }

  code (o: number, a: number): number {
    return this.status[o * this.n + a]
  }

  /** True when every up node sees every other up node alive. */
  converged (): boolean {
    const want = this.upCount - 1
    for (let o = 0; o < this.n; o++) if (this.up[o] === 1 && this.aliveSeen[o] < want) return false
    return true
  }

  /** Up observers that see every other up node alive. */
  convergedCount (): number {
    const want = this.upCount - 1
    let count = 0
    for (let o = 0; o < this.n; o++) if (this.up[o] === 1 && this.aliveSeen[o] >= want) count++
    return count
  }
}

function codeOf (event: MemberEvent): number {
  if (event.type === 'member:reap') return UNKNOWN
  const status = STATUS[event.member.status] ?? UNKNOWN
  return status === FAILED && event.member.cause === 'partition' ? FAILED + PARTITION : status
}
