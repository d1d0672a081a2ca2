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
import type { ClusterEventType, FailureCause, MemberId, Side } from './types.ts'
import { changeMember, emit, isSelfLeft, type MemberRecord, type State } from './state.ts'
import { applyTouched, collect, expire, failedForSilence, forgetDue, liveNow, trackedLive } from './partition-tracking.ts'
import { idSet } from './id-set.ts'

// The state behind the verdicts lives in partition-tracking.ts; its names stay importable from here.
export { createPartitionState, type PartitionState } from './partition-tracking.ts'

/** This node's side, from the members it can see (itself included) and the size of the last stable membership. */
export function sideOf (componentSize: number, stableSize: number): Side {
  if (stableSize <= 2) return 'unknown'
  if (2 * componentSize > stableSize) return 'majority'
  if (2 * componentSize < stableSize) return 'minority'
  return 'unknown'
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
    changeMember(state, rec, { cause: 'partition' })
    emit(state, 'member:update', rec)
  }
}

function emitCluster (state: State, type: ClusterEventType, members: MemberId[]): void {
  state.out.push({ kind: 'cluster', event: { type, ...state.partition.health, members } })
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
    p.seen = idSet(state.shared)
    for (const id of p.forgotten) {
      const rec = state.members.get(id)
      if (rec != null && failedForSilence(rec.member) && now - rec.statusSince >= state.config.partitionForgetMs) p.stable.delete(id)
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
      if (rec != null && p.stable.has(id) && now - rec.statusSince < state.config.partitionForgetMs) relabel.push(rec)
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
