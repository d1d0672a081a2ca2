/**
 * Telling a crash from a partition: the last stable membership, this node's
 * side of it, and the cause given to a member that failed for silence.
 *
 * Stable membership S (what "majority" is measured against):
 * - The alive set A is this node plus every member seen `alive`. Once A has
 *   not changed for `stableAfterMs`, S becomes A plus every member of the old S,
 *   or seen alive at an evaluation since S was last built (a late joiner, a
 *   member that flapped suspect while S formed), that is missing from A only
 *   for a reason that may be a partition: it is
 *   `suspect`, or `failed` for silence (`unreachable` / `partition`) for less
 *   than `partitionForgetMs`. So S grows with joins once the view settles, but
 *   a partition does not shrink it: both sides keep measuring themselves
 *   against the membership from before the cut until it heals, or until
 *   `partitionForgetMs` has passed (then the silence is accepted as final).
 * - Members that left, failed with cause `crash` (or `left`), or were reaped
 *   leave S at once: positive evidence that they are gone, not cut off.
 *
 * Side (sideOf): componentSize = this node and members alive or suspect in our
 * view; `majority` when componentSize > |S| / 2, `minority` when below,
 * `unknown` at exactly half, without S, or when |S| <= 2.
 *
 * Cause of a failure for silence (a suspicion timed out, or another member's
 * `dead` update that is not `crash`): `partition` when this node is on the
 * minority side, or when with it at least `partitionGroupMin` members failed
 * for silence within `partitionWindowMs`; then the earlier `unreachable` ones
 * in that window are re-labelled `partition` too (a `member:update` event each;
 * the status stays `failed`). Otherwise `unreachable`. While this node is on
 * the minority side, every member of the stable membership failed for silence
 * (and not yet forgotten) is re-labelled `partition`: the missing majority is
 * the other side.
 * `crash` and `left` are evidence and never become `partition`; `partition`
 * never goes back to `unreachable`.
 *
 * Episodes: `partition:detected` when the partition group (failed members with
 * cause `partition`, not yet forgotten) becomes non-empty or this side becomes
 * the minority, and again if the side turns minority during the episode;
 * `partition:healed` when the group is empty again (alive, left or forgotten)
 * and this side is not the minority.
 */
import type { ClusterEventType, Effect, FailureCause, Health, Member, MemberId, Side } from './types.ts'
import { emit, isLive, isSelfLeft, type MemberRecord, type State } from './state.ts'

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
  stable?: Set<MemberId>
  /** The alive set as of the last evaluation, and since when it is unchanged. */
  alive: Set<MemberId>
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
  seen: Set<MemberId>
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

export function createPartitionState (selfId: MemberId, now: number, stableAfterMs: number): PartitionState {
  return {
    alive: new Set([selfId]),
    aliveSince: now,
    seen: new Set([selfId]),
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

/** This node's side, from the members it can see (itself included) and the size of the last stable membership. */
export function sideOf (componentSize: number, stableSize: number): Side {
  if (stableSize <= 2) return 'unknown'
  if (2 * componentSize > stableSize) return 'majority'
  if (2 * componentSize < stableSize) return 'minority'
  return 'unknown'
}

function silentCause (cause: FailureCause | undefined): boolean {
  return cause === 'unreachable' || cause === 'partition'
}

function failedForSilence (m: Member): boolean {
  return m.status === 'failed' && silentCause(m.cause)
}

/**
 * Reads the member events emitted since the last call (in this input) and
 * keeps `recent` current; the other sets wait for the evaluation.
 */
function collect (state: State): void {
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
    const m = state.members.get(id)?.member
    const recent = m != null && failedForSilence(m) && state.now - m.statusSince <= state.config.partitionWindowMs
    track(p.recent, id, recent, m?.statusSince)
    track(p.recentUnreachable, id, recent && m?.cause === 'unreachable', m?.statusSince)
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
function expire (map: Map<MemberId, number>, oldest: number): void {
  for (const [id, since] of map) {
    if (since >= oldest) break
    map.delete(id)
  }
}

/** Members alive or suspect as of the last evaluation, this node included while it has not left. */
function trackedLive (state: State): number {
  const p = state.partition
  return p.alive.size - (isLive(state.self) ? 0 : 1) + p.suspects.size
}

/** Members alive or suspect now (liveCount), from the evaluation's sets and the members changed since. */
function liveNow (state: State, also?: MemberRecord): number {
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

/**
 * The cause for `rec`, just set `failed` for silence: `partition` or
 * `unreachable`, and the earlier failures to re-label `partition` with it.
 * (Called in the middle of an input, before `rec`'s own event.)
 */
export function silentVerdict (state: State, rec: MemberRecord): { cause: FailureCause, relabel: MemberRecord[] } {
  const p = state.partition
  collect(state)
  const oldest = state.now - state.config.partitionWindowMs
  expire(p.recent, oldest)
  expire(p.recentUnreachable, oldest)
  const peers = p.recent.size - (p.recent.has(rec.member.id) ? 1 : 0)
  const side = sideOf(liveNow(state, rec), p.stable?.size ?? 0)
  if (side !== 'minority' && peers + 1 < state.config.partitionGroupMin) return { cause: 'unreachable', relabel: [] }
  const relabel: MemberRecord[] = []
  for (const id of p.recentUnreachable.keys()) {
    const r = state.members.get(id)
    if (r != null && r !== rec && r.member.status === 'failed' && r.member.cause === 'unreachable') relabel.push(r)
  }
  return { cause: 'partition', relabel }
}

/** Re-labels failed members `partition`; a `member:update` each (status unchanged). */
export function relabelPartition (state: State, recs: MemberRecord[]): void {
  for (const rec of recs) {
    if (!failedForSilence(rec.member) || rec.member.cause === 'partition') continue
    rec.member.cause = 'partition'
    emit(state, 'member:update', rec.member)
  }
}

/** Gone for sure: left, crashed, or forgotten (reaped). */
function gone (state: State, id: MemberId): boolean {
  if (id === state.self.id) return false
  const m = state.members.get(id)?.member
  return m == null || m.status === 'left' || (m.status === 'failed' && !silentCause(m.cause))
}

function emitCluster (state: State, type: ClusterEventType, members: MemberId[]): void {
  state.out.push({ kind: 'cluster', event: { type, ...state.partition.health, members } })
}

/**
 * Brings the evaluation's sets up to date for the members touched since the
 * last one. True when the alive set changed. After this node left only the
 * counts are kept (the stable membership stays as it was).
 */
function applyTouched (state: State, left = false): boolean {
  const p = state.partition
  const forget = state.config.partitionForgetMs
  let changed = false
  for (const id of p.touched) {
    const m = state.members.get(id)?.member
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
    if (m != null && failedForSilence(m)) {
      const at = m.statusSince + forget
      if (p.forgetAt.get(id) !== at) {
        p.forgetAt.set(id, at)
        heapPush(p.forgetHeap, { at, id })
      }
    } else p.forgetAt.delete(id)
    if (m?.status === 'failed' && m.cause === 'partition' && m.statusSince + forget > state.now) {
      p.group.add(id)
      p.episode?.add(id)
    } else p.group.delete(id)
  }
  p.touched.clear()
  return changed
}

/** Members whose forget time has come leave the group and wait in `forgotten` for the next rebuild. */
function forgetDue (state: State): void {
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

function sorted (ids: Iterable<MemberId>): MemberId[] {
  return [...ids].sort()
}

/**
 * Re-evaluates the stable membership, the side and the episode. Runs after
 * every input; cheap unless a member event happened or a deadline passed.
 */
export function updatePartition (state: State): void {
  const p = state.partition
  const now = state.now
  collect(state)
  p.out = undefined
  if (isSelfLeft(state)) {
    applyTouched(state, true)
    p.nextAt = Infinity
    p.health = { side: 'unknown', componentSize: trackedLive(state), stableSize: p.stable?.size ?? 0 }
    return
  }
  if (!p.dirty && now < p.nextAt) return
  p.dirty = false

  // The alive set, `seen` (alive members join it) and the prune of members gone for sure.
  if (applyTouched(state)) p.aliveSince = now
  forgetDue(state)
  if (now >= p.aliveSince + state.config.stableAfterMs) {
    // The members of the old S, and those seen alive since it was built, that are
    // not alive now only for a reason that may be a partition stay in S: all but
    // those failed for silence longer than partitionForgetMs (members gone for
    // sure were pruned above; the alive ones are all in S ∪ seen).
    if (p.stable == null) p.stable = p.seen
    else for (const id of p.seen) p.stable.add(id)
    p.seen = new Set()
    for (const id of p.forgotten) {
      const m = state.members.get(id)?.member
      if (m != null && failedForSilence(m) && now - m.statusSince >= state.config.partitionForgetMs) p.stable.delete(id)
    }
    p.forgotten.clear()
  }

  const stableSize = p.stable?.size ?? 0
  let side = sideOf(trackedLive(state), stableSize)
  if (side === 'minority' && p.stable != null) {
    // The missing majority is the other side: members of S failed for silence, not yet forgotten.
    const relabel: MemberRecord[] = []
    for (const id of p.unreachable) {
      const rec = state.members.get(id)
      if (rec != null && p.stable.has(id) && now - rec.member.statusSince < state.config.partitionForgetMs) relabel.push(rec)
    }
    if (relabel.length > 0) {
      relabelPartition(state, relabel)
      collect(state)
      p.out = undefined
      applyTouched(state)
    }
  }
  const componentSize = trackedLive(state)
  side = sideOf(componentSize, stableSize)
  p.health = { side, componentSize, stableSize }

  if (p.episode == null) {
    if (p.group.size > 0 || side === 'minority') {
      const group = sorted(p.group)
      p.episode = new Set(group)
      emitCluster(state, 'partition:detected', group)
    }
  } else if (p.group.size === 0 && side !== 'minority') {
    emitCluster(state, 'partition:healed', sorted(p.episode))
    p.episode = undefined
  } else if (side === 'minority' && p.episodeSide !== 'minority') {
    emitCluster(state, 'partition:detected', sorted(p.group))
  }
  p.episodeSide = p.episode == null ? undefined : side

  let next = Infinity
  if (now < p.aliveSince + state.config.stableAfterMs) next = p.aliveSince + state.config.stableAfterMs
  if (p.forgetHeap.length > 0) next = Math.min(next, p.forgetHeap[0].at)
  p.nextAt = next
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
