/**
 * The member index: the core's members by status and deadline (suspicions,
 * reaps, failed and left sets, names of the members that are down), kept up
 * to date as members change so that no input walks every member.
 */
import type { MemberRecord, State } from './state.ts'
import { resum } from './digest.ts'

/**
 * A member's deadline in one of the index's heaps. An entry is current while the
 * index maps its record to it; any other is stale and dropped when it reaches the top.
 */
interface Due {
  at: number
  rec: MemberRecord
  /** A suspicion whose last direct check is still to come: due before `at` (see `verifyLead`). */
  early: boolean
}

/** Min-heap of deadlines by `at`, with lazy deletion. */
class DueHeap {
  #items: Due[] = []

  get size (): number {
    return this.#items.length
  }

  push (d: Due): void {
    const a = this.#items
    a.push(d)
    let i = a.length - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      if (a[up].at <= d.at) break
      a[i] = a[up]
      i = up
    }
    a[i] = d
  }

  peek (): Due | undefined {
    return this.#items[0]
  }

  pop (): Due | undefined {
    const a = this.#items
    const first = a[0]
    const last = a.pop()
    if (a.length > 0 && last != null) this.#down(0, last)
    return first
  }

  /** Keeps only the entries `keep` accepts. */
  filter (keep: (d: Due) => boolean): void {
    const a = this.#items.filter(keep)
    this.#items = a
    for (let i = (a.length >> 1) - 1; i >= 0; i--) this.#down(i, a[i])
  }

  #down (i: number, d: Due): void {
    const a = this.#items
    const n = a.length
    for (;;) {
      let c = 2 * i + 1
      if (c >= n) break
      if (c + 1 < n && a[c + 1].at < a[c].at) c++
      if (a[c].at >= d.at) break
      a[i] = a[c]
      i = c
    }
    a[i] = d
  }
}

/**
 * The members by status and deadline, kept up to date on every change of a
 * member's status (each emits an event: `emit` calls `track`) or suspicion
 * (`touchSuspicion`), so that an input costs the same at any N: no walk of every
 * member for the next deadline, for counts, for what is due, for a name.
 */
export interface MemberIndex {
  /** The next record's `order`. */
  nextOrder: number
  failed: Set<MemberRecord>
  left: Set<MemberRecord>
  /** Failed and left records by the name they had when indexed. */
  byName: Map<string, Set<MemberRecord>>
  downName: Map<MemberRecord, string>
  /** The current reap time of each failed or left record, and their heap. */
  reapOf: Map<MemberRecord, Due>
  reaps: DueHeap
  /** The current suspicion deadline of each suspect; in `early` or `deadlines` by its entry's `early`. */
  suspicionOf: Map<MemberRecord, Due>
  deadlines: DueHeap
  early: DueHeap
}

export function createIndex (): MemberIndex {
  return {
    nextOrder: 0,
    failed: new Set(),
    left: new Set(),
    byName: new Map(),
    downName: new Map(),
    reapOf: new Map(),
    reaps: new DueHeap(),
    suspicionOf: new Map(),
    deadlines: new DueHeap(),
    early: new DueHeap()
  }
}

function byOrder (a: MemberRecord, b: MemberRecord): number {
  return a.order - b.order
}

/** Records in `members`' iteration order. */
export function inOrder (recs: Iterable<MemberRecord>): MemberRecord[] {
  return [...recs].sort(byOrder)
}

/**
 * Re-files `rec` after a change of its status, statusSince or incarnation, or
 * after it was added to or removed from `members` (a reap); its share of the
 * push-pull digest too.
 */
export function track (state: State, rec: MemberRecord): void {
  const ix = state.index
  const present = state.members.get(rec.member.id) === rec
  resum(state.digestSums, rec, present)
  const status = present ? rec.member.status : undefined
  const down = status === 'failed' || status === 'left'
  const was = ix.downName.get(rec)
  const name = down ? rec.member.name : undefined
  if (was !== name) {
    if (was != null) {
      const same = ix.byName.get(was)
      same?.delete(rec)
      if (same?.size === 0) ix.byName.delete(was)
      ix.downName.delete(rec)
    }
    if (name != null) {
      let same = ix.byName.get(name)
      if (same == null) ix.byName.set(name, same = new Set())
      same.add(rec)
      ix.downName.set(rec, name)
    }
  }
  if (status === 'failed') ix.failed.add(rec)
  else ix.failed.delete(rec)
  if (status === 'left') ix.left.add(rec)
  else ix.left.delete(rec)
  if (down) {
    const at = rec.statusSince + reapAfterMs(state, rec)
    const current = ix.reapOf.get(rec)
    if (current == null || current.at !== at) push(ix.reaps, ix.reapOf, { at, rec, early: false })
  } else ix.reapOf.delete(rec)
  touchSuspicion(state, rec)
}

/** How long after its last status change a failed or left member is forgotten. */
export function reapAfterMs (state: State, rec: MemberRecord): number {
  const { reapFailedAfterMs, reapLeftAfterMs, reapForcedLeftAfterMs } = state.config
  if (rec.member.status === 'failed') return reapFailedAfterMs
  return rec.leaveForcedBy == null ? reapLeftAfterMs : Math.min(reapLeftAfterMs, reapForcedLeftAfterMs)
}

/** Re-files `rec`'s suspicion after its deadline, `verified` or `rec.refused` may have changed. */
export function touchSuspicion (state: State, rec: MemberRecord): void {
  const ix = state.index
  const s = rec.member.status === 'suspect' && state.members.get(rec.member.id) === rec ? rec.suspicion : undefined
  if (s == null) {
    ix.suspicionOf.delete(rec)
    return
  }
  const early = !(s.verified || rec.refused)
  const current = ix.suspicionOf.get(rec)
  if (current != null && current.at === s.deadline && current.early === early) return
  push(early ? ix.early : ix.deadlines, ix.suspicionOf, { at: s.deadline, rec, early })
}

function push (heap: DueHeap, current: Map<MemberRecord, Due>, d: Due): void {
  current.set(d.rec, d)
  heap.push(d)
  // Stale entries below the top are dropped now and then, so that the heap stays
  // within a constant factor of the current entries.
  if (heap.size > 2 * current.size + 64) heap.filter(e => current.get(e.rec) === e)
}

function top (heap: DueHeap, current: Map<MemberRecord, Due>): Due | undefined {
  for (;;) {
    const d = heap.peek()
    if (d == null || current.get(d.rec) === d) return d
    heap.pop()
  }
}

/** How long before its deadline a suspicion not yet verified gets its last direct check (timers.ts verifyAt). */
function verifyLead (state: State): number {
  return 2 * state.awareness.scale(state.config.probeIntervalMs)
}

function earlyAt (at: number, lead: number): number {
  return Math.min(at, at - lead)
}

/** The earliest suspicion step (last check or failure) and reap; suspicions only while this node has not left. */
export function memberDeadline (state: State): number {
  const ix = state.index
  let d = Infinity
  // isSelfLeft (state.ts), written out: state.ts imports this file.
  if (state.self.status !== 'left') {
    const late = top(ix.deadlines, ix.suspicionOf)
    if (late != null) d = late.at
    const early = top(ix.early, ix.suspicionOf)
    if (early != null) d = Math.min(d, earlyAt(early.at, verifyLead(state)))
  }
  const reap = top(ix.reaps, ix.reapOf)
  if (reap != null) d = Math.min(d, reap.at)
  return d
}

/**
 * The suspects with a step due at `t`, in `members`' order, taken out of the
 * index: the caller runs them and files them again with `touchSuspicion`.
 */
export function takeDueSuspects (state: State, t: number): MemberRecord[] {
  const ix = state.index
  const due: MemberRecord[] = []
  for (let d = top(ix.deadlines, ix.suspicionOf); d != null && d.at <= t; d = top(ix.deadlines, ix.suspicionOf)) {
    ix.deadlines.pop()
    ix.suspicionOf.delete(d.rec)
    due.push(d.rec)
  }
  const lead = verifyLead(state)
  for (let d = top(ix.early, ix.suspicionOf); d != null && earlyAt(d.at, lead) <= t; d = top(ix.early, ix.suspicionOf)) {
    ix.early.pop()
    ix.suspicionOf.delete(d.rec)
    due.push(d.rec)
  }
  return due.sort(byOrder)
}

/** The failed and left members whose reap time is due at `t`, in `members`' order, taken out of the index (see `takeDueSuspects`). */
export function takeDueReaps (state: State, t: number): MemberRecord[] {
  const ix = state.index
  const due: MemberRecord[] = []
  for (let d = top(ix.reaps, ix.reapOf); d != null && d.at <= t; d = top(ix.reaps, ix.reapOf)) {
    ix.reaps.pop()
    ix.reapOf.delete(d.rec)
    due.push(d.rec)
  }
  return due.sort(byOrder)
}
