/**
 * The bookkeeping behind the partition verdicts (partition.ts): the alive,
 * suspect, unreachable and partition-group sets, the members seen since the
 * stable membership was rebuilt, forget times and recent silent failures,
 * kept current from the member events of each input.
 */
import type { Effect, FailureCause, Health, MemberId, Side } from './types.ts'
import type { MemberState } from './member-states.ts'
import type { SharedViews } from './shared-views.ts'
import { idSet, type IdSet } from './id-set.ts'
import { isLive, type MemberRecord, type State } from './state.ts'

/*
 * Cost. Nothing here walks every member: the sets below are kept up to date
 * from the member events of each input (every change of a member's status,
 * cause or statusSince, and every reap, emits one; see state.ts `emit`), read
 * from `state.out` through a cursor. An evaluation costs O(members whose
 * events it saw), plus O(|group|) when a partition episode starts or ends, and
 * the rebuild of the stable membership O(members seen alive since the last
 * one + members forgotten since).
 */

export interface PartitionState {
  /** The last stable membership; undefined until the alive set first settled. */
  stable?: IdSet
  /** The alive set as of the last evaluation, and since when it is unchanged. */
  alive: IdSet
  aliveSince: number
  /**
   * Every member seen alive at an evaluation since the stable membership was last
   * rebuilt (the current alive set included). A member that joined or refuted but
   * fell silent before the view settled again is still a member: without this it
   * would be missing from S for good, and a partition that starts then (or before
   * S first formed) would be measured against one side only.
   * Held without the members of `stable` once it exists: the set meant here is
   * `stable` ∪ `seen` (every member of S was seen at the rebuild).
   */
  seen: IdSet
  /** A member event was emitted since the last evaluation. */
  dirty: boolean
  /** Next time the evaluation can change without a member event. */
  nextAt: number
  health: Health
  /** The running episode: every member that was in the partition group during it. */
  episode?: Set<MemberId>
  /** The side at the last evaluation during the episode. */
  episodeSide?: Side

  /** Members with a member event since the last evaluation. */
  touched: Set<MemberId>
  /** The effects list of the input in progress, and how far its events were read. */
  out?: Effect[]
  outIndex: number
  /** Suspect members, as of the last evaluation. */
  suspects: Set<MemberId>
  /** Failed with cause `unreachable`, as of the last evaluation. */
  unreachable: Set<MemberId>
  /** The partition group: failed with cause `partition`, not yet forgotten. */
  group: Set<MemberId>
  /** Failed for silence: when each is forgotten (statusSince + partitionForgetMs); with a min-heap of those times. */
  forgetAt: Map<MemberId, number>
  forgetHeap: Array<{ at: number, id: MemberId }>
  /** Members whose forget time passed since the stable membership was last rebuilt. */
  forgotten: Set<MemberId>
  /**
   * Failed for silence within partitionWindowMs, in the order they failed (kept
   * current at every event, not only at evaluations: silentVerdict needs it in
   * the middle of an input); and those of them with cause `unreachable`.
   */
  recent: Map<MemberId, number>
  recentUnreachable: Map<MemberId, number>
}

export function createPartitionState (selfId: MemberId, now: number, stableAfterMs: number, shared?: SharedViews): PartitionState {
  return {
    alive: idSet(shared, [selfId]),
    aliveSince: now,
    seen: idSet(shared, [selfId]),
    dirty: false,
    nextAt: now + stableAfterMs,
    health: { side: 'unknown', componentSize: 1, stableSize: 0 },
    touched: new Set(),
    outIndex: 0,
    suspects: new Set(),
    unreachable: new Set(),
    group: new Set(),
    forgetAt: new Map(),
    forgetHeap: [],
    forgotten: new Set(),
    recent: new Map(),
    recentUnreachable: new Map()
  }
}

function silentCause (cause: FailureCause | undefined): boolean {
  return cause === 'unreachable' || cause === 'partition'
}

export function failedForSilence (m: MemberState): boolean {
  return m.status === 'failed' && silentCause(m.cause)
}

/**
 * Reads the member events emitted since the last call (in this input) and
 * keeps `recent` current; the other sets wait for the evaluation.
 */
export function collect (state: State): void {
  const p = state.partition
  const out = state.out
  if (p.out !== out) {
    p.out = out
    p.outIndex = 0
  }
  for (; p.outIndex < out.length; p.outIndex++) {
    const effect = out[p.outIndex]
    if (effect.kind !== 'event') continue
    const id = effect.event.member.id
    p.touched.add(id)
    const rec = state.members.get(id)
    const m = rec?.member
    const recent = rec != null && m != null && failedForSilence(m) && state.now - rec.statusSince <= state.config.partitionWindowMs
    track(p.recent, id, recent, rec?.statusSince)
    track(p.recentUnreachable, id, recent && m?.cause === 'unreachable', rec?.statusSince)
  }
}

/** Keeps `id` in `map` (valued by statusSince, in the order they entered) while `keep`; a new statusSince moves it to the end. */
function track (map: Map<MemberId, number>, id: MemberId, keep: boolean, since: number | undefined): void {
  if (keep && since != null) {
    if (map.get(id) === since) return
    map.delete(id)
    map.set(id, since)
  } else map.delete(id)
}

/** Drops from the front of `map` the members that failed more than the window ago. */
export function expire (map: Map<MemberId, number>, oldest: number): void {
  for (const [id, since] of map) {
    if (since >= oldest) break
    map.delete(id)
  }
}

/** Members alive or suspect as of the last evaluation, this node included while it has not left. */
export function trackedLive (state: State): number {
  const p = state.partition
  return p.alive.size - (isLive(state.self) ? 0 : 1) + p.suspects.size
}

/** Members alive or suspect now (liveCount), from the evaluation's sets and the members changed since. */
export function liveNow (state: State, also?: MemberRecord): number {
  const p = state.partition
  let n = trackedLive(state)
  const adjust = (id: MemberId): void => {
    const m = state.members.get(id)?.member
    n += (m != null && isLive(m) ? 1 : 0) - (p.alive.has(id) || p.suspects.has(id) ? 1 : 0)
  }
  for (const id of p.touched) adjust(id)
  if (also != null && !p.touched.has(also.member.id)) adjust(also.member.id)
  return n
}

/** Gone for sure: left, crashed, or forgotten (reaped). */
function gone (state: State, id: MemberId): boolean {
  if (id === state.self.id) return false
  const m = state.members.get(id)?.member
  return m == null || m.status === 'left' || (m.status === 'failed' && !silentCause(m.cause))
}

/**
 * Brings the evaluation's sets up to date for the members touched since the
 * last one. True when the alive set changed. After this node left only the
 * counts are kept (the stable membership stays as it was).
 */
export function applyTouched (state: State, left = false): boolean {
  const p = state.partition
  const forget = state.config.partitionForgetMs
  let changed = false
  for (const id of p.touched) {
    const rec = state.members.get(id)
    const m = rec?.member
    const alive = m?.status === 'alive'
    if (alive !== p.alive.has(id)) {
      changed = true
      if (alive) p.alive.add(id)
      else p.alive.delete(id)
    }
    if (m?.status === 'suspect') p.suspects.add(id)
    else p.suspects.delete(id)
    if (left) continue
    if (alive && !(p.stable?.has(id) ?? false)) p.seen.add(id)
    if (gone(state, id)) {
      p.seen.delete(id)
      p.stable?.delete(id)
    }
    if (m?.status === 'failed' && m.cause === 'unreachable') p.unreachable.add(id)
    else p.unreachable.delete(id)
    if (rec != null && failedForSilence(rec.member)) {
      const at = rec.statusSince + forget
      if (p.forgetAt.get(id) !== at) {
        p.forgetAt.set(id, at)
        heapPush(p.forgetHeap, { at, id })
      }
    } else p.forgetAt.delete(id)
    if (rec != null && m?.status === 'failed' && m.cause === 'partition' && rec.statusSince + forget > state.now) {
      p.group.add(id)
      p.episode?.add(id)
    } else p.group.delete(id)
  }
  p.touched.clear()
  return changed
}

/**
 * Members learned alive without an event (known-members.ts), counted as
 * applyTouched counts an alive member, without a `touched` entry each until
 * the next evaluation: 10,000 cores created knowing 10,000 members would
 * hold 3 GB of them before their first input.
 */
export function countLearnedAlive (state: State, ids: MemberId[]): void {
  const p = state.partition
  for (const id of ids) {
    p.alive.add(id)
    if (!(p.stable?.has(id) ?? false)) p.seen.add(id)
  }
  if (ids.length > 0) {
    p.aliveSince = state.now
    p.dirty = true
  }
}

/** Members whose forget time has come leave the group and wait in `forgotten` for the next rebuild. */
export function forgetDue (state: State): void {
  const p = state.partition
  const heap = p.forgetHeap
  while (heap.length > 0 && (heap[0].at <= state.now || p.forgetAt.get(heap[0].id) !== heap[0].at)) {
    const { at, id } = heapPop(heap)
    if (p.forgetAt.get(id) !== at) continue // no longer failed for silence since then
    p.forgotten.add(id)
    p.group.delete(id)
  }
  // Stale entries (no longer failed for silence, or failed again since) outnumber the others: rebuild
  // from the members not yet forgotten (those whose time came were taken above).
  if (heap.length > 2 * p.forgetAt.size + 64) {
    p.forgetHeap = []
    for (const [id, at] of p.forgetAt) if (at > state.now) heapPush(p.forgetHeap, { at, id })
  }
}

function heapPush (heap: Array<{ at: number, id: MemberId }>, item: { at: number, id: MemberId }): void {
  let i = heap.push(item) - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (heap[parent].at <= item.at) break
    heap[i] = heap[parent]
    i = parent
  }
  heap[i] = item
}

function heapPop (heap: Array<{ at: number, id: MemberId }>): { at: number, id: MemberId } {
  const top = heap[0]
  const last = heap.pop()!
  if (heap.length > 0) {
    let i = 0
    for (;;) {
      let child = 2 * i + 1
      if (child >= heap.length) break
      if (child + 1 < heap.length && heap[child + 1].at < heap[child].at) child++
      if (heap[child].at >= last.at) break
      heap[i] = heap[child]
      i = child
    }
    heap[i] = last
  }
  return top
}
