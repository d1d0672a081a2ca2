// The partition verdicts as they were before they were kept incrementally (membership/partition.ts at 33daee6),
// rebuilding every set from all members at each evaluation: the reference that
// membership-partition-incremental.test.ts compares the incremental one with.

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
import type { ClusterEventType, FailureCause, Health, Member, MemberId, Side } from '../../membership/types.ts'
import { changeMember, emit, isSelfLeft, liveCount, type MemberRecord, type State } from '../../membership/state.ts'
import type { MemberState } from '../../membership/member-states.ts'
import type { IdSet } from '../../membership/id-set.ts'

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
}

export function createPartitionState (selfId: MemberId, now: number, stableAfterMs: number): PartitionState {
  return {
    alive: new Set([selfId]),
    aliveSince: now,
    seen: new Set([selfId]),
    dirty: false,
    nextAt: now + stableAfterMs,
    health: { side: 'unknown', componentSize: 1, stableSize: 0 }
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

function failedForSilence (m: MemberState): boolean {
  return m.status === 'failed' && silentCause(m.cause)
}

/** Other members that failed for silence within the window before now. */
function recentSilent (state: State, except?: MemberRecord): MemberRecord[] {
  const out: MemberRecord[] = []
  for (const rec of state.members.values()) {
    if (rec === except || !failedForSilence(rec.member)) continue
    if (state.now - rec.statusSince <= state.config.partitionWindowMs) out.push(rec)
  }
  return out
}

/** Members of the stable membership failed for silence and not yet forgotten: the other side, when we are the minority. */
function stableSilent (state: State): MemberRecord[] {
  const out: MemberRecord[] = []
  for (const id of state.partition.stable ?? []) {
    const rec = state.members.get(id)
    if (rec != null && rec.member.status === 'failed' && mayBePartitioned(state, id)) out.push(rec)
  }
  return out
}

/**
 * The cause for `rec`, just set `failed` for silence: `partition` or
 * `unreachable`, and the earlier failures to re-label `partition` with it.
 */
export function silentVerdict (state: State, rec: MemberRecord): { cause: FailureCause, relabel: MemberRecord[] } {
  const peers = recentSilent(state, rec)
  const side = sideOf(liveCount(state), state.partition.stable?.size ?? 0)
  if (side !== 'minority' && peers.length + 1 < state.config.partitionGroupMin) return { cause: 'unreachable', relabel: [] }
  return { cause: 'partition', relabel: peers.filter(r => r.member.cause === 'unreachable') }
}

/** Re-labels failed members `partition`; a `member:update` each (status unchanged). */
export function relabelPartition (state: State, recs: MemberRecord[]): void {
  for (const rec of recs) {
    if (!failedForSilence(rec.member) || rec.member.cause === 'partition') continue
    changeMember(state, rec, { cause: 'partition' })
    emit(state, 'member:update', rec)
  }
}

/** Still part of the stable membership although not alive: it may be on the other side of a partition. */
function mayBePartitioned (state: State, id: MemberId): boolean {
  const rec = state.members.get(id)
  if (rec == null) return false
  if (rec.member.status === 'suspect') return true
  return failedForSilence(rec.member) && state.now - rec.statusSince < state.config.partitionForgetMs
}

/** Gone for sure: left, crashed, or forgotten (reaped). */
function gone (state: State, id: MemberId): boolean {
  if (id === state.self.id) return false
  const m = state.members.get(id)?.member
  return m == null || m.status === 'left' || (m.status === 'failed' && !silentCause(m.cause))
}

function sameSet (a: Set<MemberId>, b: IdSet): boolean {
  if (a.size !== b.size) return false
  for (const x of a) if (!b.has(x)) return false
  return true
}

/** The partition group: failed members with cause `partition` not yet forgotten, sorted. */
function partitionGroup (state: State): MemberId[] {
  const ids: MemberId[] = []
  for (const rec of state.members.values()) {
    const m = rec.member
    if (m.status === 'failed' && m.cause === 'partition' && state.now - rec.statusSince < state.config.partitionForgetMs) ids.push(m.id)
  }
  return ids.sort()
}

function emitCluster (state: State, type: ClusterEventType, members: MemberId[]): void {
  state.out.push({ kind: 'cluster', event: { type, ...state.partition.health, members } })
}

/**
 * Re-evaluates the stable membership, the side and the episode. Runs after
 * every input; cheap unless a member event happened or a deadline passed.
 */
export function updatePartition (state: State): void {
  const p = state.partition
  const now = state.now
  if (isSelfLeft(state)) {
    p.nextAt = Infinity
    p.health = { side: 'unknown', componentSize: liveCount(state), stableSize: p.stable?.size ?? 0 }
    return
  }
  if (!p.dirty && now < p.nextAt) return
  p.dirty = false

  const alive = new Set<MemberId>([state.self.id])
  for (const rec of state.members.values()) if (rec.member.status === 'alive') alive.add(rec.member.id)
  if (!sameSet(alive, p.alive)) {
    p.alive = alive
    p.aliveSince = now
  }
  for (const id of alive) p.seen.add(id)
  for (const id of p.seen) if (gone(state, id)) p.seen.delete(id)
  if (p.stable != null) for (const id of p.stable) if (gone(state, id)) p.stable.delete(id)
  if (now >= p.aliveSince + state.config.stableAfterMs) {
    // The members of the old S, and those seen alive since it was built, that are
    // not alive now only for a reason that may be a partition stay in S.
    const next = new Set(alive)
    for (const id of [...(p.stable ?? []), ...p.seen]) if (!next.has(id) && mayBePartitioned(state, id)) next.add(id)
    p.stable = next
    p.seen = new Set(next)
  }

  const stableSize = p.stable?.size ?? 0
  let componentSize = liveCount(state)
  let side = sideOf(componentSize, stableSize)
  if (side === 'minority') relabelPartition(state, stableSilent(state))
  componentSize = liveCount(state)
  side = sideOf(componentSize, stableSize)
  p.health = { side, componentSize, stableSize }

  const group = partitionGroup(state)
  if (p.episode == null) {
    if (group.length > 0 || side === 'minority') {
      p.episode = new Set(group)
      emitCluster(state, 'partition:detected', group)
    }
  } else {
    for (const id of group) p.episode.add(id)
    if (group.length === 0 && side !== 'minority') {
      emitCluster(state, 'partition:healed', [...p.episode].sort())
      p.episode = undefined
    } else if (side === 'minority' && p.episodeSide !== 'minority') {
      emitCluster(state, 'partition:detected', group)
    }
  }
  p.episodeSide = p.episode == null ? undefined : side

  let next = Infinity
  if (now < p.aliveSince + state.config.stableAfterMs) next = p.aliveSince + state.config.stableAfterMs
  for (const rec of state.members.values()) {
    const m = rec.member
    if (!failedForSilence(m)) continue
    const forgetAt = rec.statusSince + state.config.partitionForgetMs
    if (forgetAt > now) next = Math.min(next, forgetAt)
  }
  p.nextAt = next
}
