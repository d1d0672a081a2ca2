/**
 * State merge rules (memberlist's aliveNode / suspectNode / deadNode, plus
 * leave and boot ids). Each function applies one update if the rules allow,
 * re-broadcasts what it applied, emits member events, and refutes updates
 * that accuse this node.
 *
 * Ordering by incarnation: `alive` needs a strictly higher incarnation (or a
 * new boot id at an equal or higher one: a restart); `suspect` needs >= and an
 * alive member (or confirms a running suspicion); `dead` needs >= and a member
 * that is not failed or left; `leave` needs >= and a member that has not left,
 * and a forced leave (signed by another member) a member that is failed.
 */
import type { FailureCause, MemberAnnouncement, MemberId, Update } from './types.ts'
import { expectedConfirmations, suspicionMaxTimeoutMs, suspicionMinTimeoutMs } from './formulas.ts'
import { randomInt } from './random.ts'
import { confirmSuspicion, markRefused, startSuspicion, type Suspicion } from './suspicion.ts'
import { relabelPartition, silentVerdict } from './partition.ts'
import { signAccusation, verifyAccusation, verifyAlive, verifyLeave } from './signatures.ts'
import { aliveUpdate, broadcast, changeMember, emit, keepAddrs, keepTags, liveCount, MAX_TOMBSTONES, newRecord, sameTags, spansLongStall, type MemberRecord, type State } from './state.ts'
import { ringSuccessors } from './ring-view.ts'
import { inOrder, touchSuspicion, track } from './member-index.ts'
import { noteRefutation } from './refutation-window.ts'
import { setNewest } from './bounded-map.ts'
import { pushPullEarlyAfterVerdict } from './push-pull-schedule.ts'

type AliveUpdate = Extract<Update, { type: 'alive' }>
type SuspectUpdate = Extract<Update, { type: 'suspect' }>
type DeadUpdate = Extract<Update, { type: 'dead' }>
type LeaveUpdate = Extract<Update, { type: 'leave' }>

export function applyUpdate (state: State, update: Update): void {
  switch (update.type) {
    case 'alive': applyAlive(state, update); break
    case 'suspect': applySuspect(state, update); break
    case 'dead': applyDead(state, update); break
    case 'leave': applyLeave(state, update); break
  }
}

/** Bumps this node's incarnation past `incarnation` and announces it alive. */
export function refute (state: State, incarnation: number): void {
  // Past 2^53 - 1 our announcement could not be encoded (nor compared exactly):
  // such an accusation is not plausible, and refuting it would silence us.
  if (incarnation >= Number.MAX_SAFE_INTEGER) { state.stats.messagesIgnored++; return }
  const self = state.self
  self.incarnation = Math.max(self.incarnation, incarnation) + 1
  broadcast(state, aliveUpdate(state, self))
  state.awareness.apply(1)
  state.stats.refutations++
}

/**
 * Someone says we are suspect or failed. At our incarnation or above: refute.
 * Below it we already did, but the sender has not heard: note it so that the
 * caller can answer the sender with our current announcement directly.
 */
function accusedSelf (state: State, incarnation: number): void {
  if (state.self.status === 'left') return
  if (incarnation >= state.self.incarnation) refute(state, incarnation)
  else state.staleAccusation = true
}

function sameAnnouncement (a: MemberAnnouncement, b: MemberAnnouncement): boolean {
  if (a.name !== b.name || a.bootId !== b.bootId || a.addrs.length !== b.addrs.length) return false
  if (a.addrs.some((addr, i) => addr !== b.addrs[i])) return false
  return sameTags(a.tags, b.tags)
}

export function applyAlive (state: State, a: AliveUpdate): void {
  const now = state.now
  if (a.id === state.self.id) {
    if (state.self.status === 'left') return
    if (a.incarnation < state.self.incarnation) return
    if (a.incarnation === state.self.incarnation && sameAnnouncement(a, state.self)) return
    // Only our own signed statements (a previous boot) make us refute: a forged one could
    // otherwise push our incarnation anywhere.
    if (!verifyAlive(state, a)) return
    // Someone holds an older or different picture of us (a previous boot, old tags): override it.
    refute(state, a.incarnation)
    return
  }
  const rec = state.members.get(a.id)
  if (rec == null) {
    const tomb = state.tombstones.get(a.id)
    if (tomb != null && a.incarnation <= tomb.incarnation && a.bootId === tomb.bootId) return
    if (!verifyAlive(state, a)) return
    state.tombstones.delete(a.id)
    // A node restarted without its key comes back under a new peer id but the same
    // name: the failed or departed record of that name is the same machine, so it is
    // forgotten now rather than listed beside its successor until it is reaped.
    const same = state.index.byName.get(a.name)
    if (same != null) {
      for (const old of inOrder(same)) {
        if (old.member.name === a.name && (old.member.status === 'failed' || old.member.status === 'left')) reap(state, old)
      }
    }
    const added = newRecord(state, a, a.signature)
    state.members.set(a.id, added)
    insertIntoProbeOrder(state, a.id)
    state.stats.updatesApplied++
    emit(state, 'member:join', added)
    broadcast(state, a)
    return
  }
  const m = rec.member
  const newBoot = a.bootId !== m.bootId
  if (!(a.incarnation > m.incarnation || (newBoot && a.incarnation >= m.incarnation))) return
  if (!verifyAlive(state, a)) return
  const previous = m.status
  const changed = !sameAnnouncement(a, m)
  changeMember(state, rec, {
    name: a.name, addrs: keepAddrs(a.addrs), tags: keepTags(a.tags), incarnation: a.incarnation, bootId: a.bootId, status: 'alive', cause: undefined,
    aliveSignedIncarnation: a.incarnation, aliveSignature: a.signature
  })
  if (previous !== 'alive') rec.statusSince = now
  // The same process answering a suspicion: how long refutations take here now.
  const s = rec.suspicion
  if (previous === 'suspect' && !newBoot && s != null) noteProofOfLife(state, s.startedAt)
  rec.suspicion = undefined
  rec.refused = false
  // Counts (liveCount) are right from here on, not only from the event below.
  track(state, rec)
  state.stats.updatesApplied++
  if (previous === 'failed' || previous === 'left') {
    insertIntoProbeOrder(state, a.id)
    emit(state, newBoot || previous === 'left' ? 'member:join' : 'member:alive', rec)
  } else if (previous === 'suspect') {
    emit(state, 'member:alive', rec)
  } else if (changed) {
    emit(state, 'member:update', rec)
  }
  broadcast(state, a)
}

export function applySuspect (state: State, s: SuspectUpdate): boolean {
  if (s.id === state.self.id) {
    if (verifyAccusation(state, s)) accusedSelf(state, s.incarnation)
    return false
  }
  const rec = state.members.get(s.id)
  if (rec == null) return false
  const m = rec.member
  if (s.incarnation < m.incarnation) return false
  if (m.status === 'suspect') {
    // Checked only when it would count: a new accuser, or a higher incarnation.
    const counts = rec.suspicion != null && !rec.suspicion.accusers.has(s.from) && rec.suspicion.confirmations < rec.suspicion.k
    if ((counts || s.incarnation > m.incarnation) && !verifyAccusation(state, s)) return false
    if (s.incarnation > m.incarnation && rec.suspicion != null) {
      resuspect(state, rec, s)
      return false
    }
    // Higher only for a suspect without a running suspicion; every confirmation comes here at the same one.
    if (s.incarnation !== m.incarnation) {
      changeMember(state, rec, { incarnation: s.incarnation })
      track(state, rec)
    }
    if (rec.suspicion != null && confirmSuspicion(rec.suspicion, s.from)) {
      touchSuspicion(state, rec)
      // A new independent confirmation: pass it on so that others can count it too.
      broadcast(state, s)
      state.stats.updatesApplied++
    }
    return false
  }
  if (m.status !== 'alive') return false
  if (!verifyAccusation(state, s)) return false
  changeMember(state, rec, { status: 'suspect', incarnation: s.incarnation, cause: rec.refused ? 'crash' : 'unreachable' })
  rec.statusSince = state.now
  rec.suspicion = newSuspicion(state, rec, s.from)
  state.stats.updatesApplied++
  emit(state, 'member:suspect', rec)
  broadcast(state, s)
  return true
}

/**
 * A suspicion of a newer incarnation than the one we suspect: the member
 * refuted our suspicion (only it can raise its incarnation) and was accused
 * again before its refutation reached us; a sender's queue keeps one update
 * per member, so the new accusation can overtake the refutation. The old
 * timer ran against the old incarnation: kept, it would fail the new one on
 * evidence that was refuted. So the refutation counts as such (its span, as
 * applyAlive would have noted it), and the new suspicion starts from now.
 */
function resuspect (state: State, rec: MemberRecord, s: SuspectUpdate): void {
  noteProofOfLife(state, rec.suspicion!.startedAt)
  changeMember(state, rec, { incarnation: s.incarnation })
  rec.suspicion = newSuspicion(state, rec, s.from)
  track(state, rec)
  state.stats.updatesApplied++
  broadcast(state, s)
}

/**
 * A proof of life that took from `since` until now (a refutation, or a late
 * ack): how slow answers are lately, for the hold on suspicions (timers.ts).
 * Not one that ran across a long stall of this process: that measured the stall.
 */
export function noteProofOfLife (state: State, since: number): void {
  if (!spansLongStall(state, since)) noteRefutation(state.refutationSpans, state.now, state.now - since)
}

/** A suspicion timer starting now, scaled to the live members we know; short with crash evidence. */
function newSuspicion (state: State, rec: MemberRecord, from: MemberId): Suspicion {
  const n = liveCount(state)
  const min = suspicionMinTimeoutMs(state.config.suspicionMult, n, state.config.probeIntervalMs)
  const max = suspicionMaxTimeoutMs(min, state.config.suspicionMaxTimeoutMult)
  const suspicion = startSuspicion(state.now, from, expectedConfirmations(state.config.suspicionMult, n), min, max)
  if (rec.refused) markRefused(suspicion, state.now, state.config.refusedSuspicionTimeoutMs)
  return suspicion
}

export function applyDead (state: State, d: DeadUpdate): void {
  if (d.id === state.self.id) {
    if (!verifyAccusation(state, d)) return
    pushPullEarlyAfterVerdict(state, d.incarnation)
    accusedSelf(state, d.incarnation)
    return
  }
  const rec = state.members.get(d.id)
  if (rec == null) return
  const m = rec.member
  if (d.incarnation < m.incarnation) return
  if (m.status === 'failed' || m.status === 'left') return
  if (!verifyAccusation(state, d)) return
  // The cause stays the suspicion's until it is decided below (silentVerdict reads the record).
  changeMember(state, rec, { status: 'failed', incarnation: d.incarnation })
  rec.statusSince = state.now
  rec.suspicion = undefined
  // Before the verdict below: liveCount no longer counts it.
  track(state, rec)
  // The cause in the update is the sender's opinion. Crash evidence (ours or the
  // sender's) is kept; silence gets this node's own verdict (partition.ts).
  let relabel: MemberRecord[] = []
  let cause: FailureCause
  if (rec.refused || d.cause === 'crash') cause = 'crash'
  else if (d.cause === 'left') cause = 'left'
  else {
    const verdict = silentVerdict(state, rec)
    cause = verdict.cause
    relabel = verdict.relabel
  }
  changeMember(state, rec, { cause })
  state.stats.updatesApplied++
  emit(state, 'member:failed', rec)
  relabelPartition(state, relabel)
  broadcast(state, d.from === state.self.id ? { ...d, cause } : d)
}

export function applyLeave (state: State, l: LeaveUpdate): void {
  if (l.id === state.self.id) {
    // Our own leave is applied by leave(); any other one is stale (a previous run): override it.
    if (state.self.status !== 'left' && l.incarnation >= state.self.incarnation && verifyLeave(state, l)) refute(state, l.incarnation)
    return
  }
  const rec = state.members.get(l.id)
  if (rec == null) return
  const m = rec.member
  if (l.incarnation < m.incarnation) return
  if (m.status === 'left') return
  // A forced leave retires only the dead: a member alive or suspect here is left alone.
  const forcedBy = l.from != null && l.from !== l.id ? l.from : undefined
  if (forcedBy != null && m.status !== 'failed') return
  if (!verifyLeave(state, l)) return
  rec.leaveSignature = l.signature
  rec.leaveForcedBy = forcedBy
  changeMember(state, rec, { status: 'left', incarnation: l.incarnation, cause: 'left' })
  rec.statusSince = state.now
  rec.suspicion = undefined
  rec.refused = false
  track(state, rec)
  state.stats.updatesApplied++
  emit(state, 'member:leave', rec)
  broadcast(state, l)
}

/**
 * This node's own accusation after a failed or refused probe.
 * Returns true when it turned an alive member suspect.
 */
export function suspectLocally (state: State, rec: MemberRecord, incarnation: number, refused: boolean): boolean {
  if (refused) rec.refused = true
  const raised = applySuspect(state, signAccusation(state, { type: 'suspect', id: rec.member.id, incarnation, from: state.self.id }))
  if (raised) {
    state.stats.suspicionsRaised++
    if (rec.suspicion != null) rec.suspicion.raisedOnRefusal = refused
  } else if (refused && rec.member.status === 'suspect' && rec.suspicion != null) {
    changeMember(state, rec, { cause: 'crash' })
    markRefused(rec.suspicion, state.now, state.config.refusedSuspicionTimeoutMs)
  }
  // rec.refused decides when a suspicion gets its last check (timers.ts verifyAt).
  touchSuspicion(state, rec)
  return raised
}

/** A suspicion ran out: declare the member failed (applyDead decides unreachable or partition). */
export function failSuspect (state: State, rec: MemberRecord): void {
  const cause: FailureCause = rec.refused ? 'crash' : 'unreachable'
  applyDead(state, signAccusation(state, { type: 'dead', id: rec.member.id, incarnation: rec.member.incarnation, from: state.self.id, cause }))
}

/**
 * An ack reached us from a member we had suspected only because its
 * connection was refused: the evidence was wrong (it answers on some path), so
 * withdraw our suspicion. Others that heard it will see the member refute.
 */
export function withdrawRefusedSuspicion (state: State, rec: MemberRecord): void {
  rec.refused = false
  const m = rec.member
  if (m.status !== 'suspect' || rec.suspicion?.raisedOnRefusal !== true) {
    if (m.status === 'suspect' && m.cause === 'crash') changeMember(state, rec, { cause: 'unreachable' })
    touchSuspicion(state, rec)
    return
  }
  rec.suspicion = undefined
  changeMember(state, rec, { status: 'alive', cause: undefined })
  rec.statusSince = state.now
  state.broadcasts.drop(m.id, u => u.type === 'suspect' && u.from === state.self.id)
  emit(state, 'member:alive', rec)
}

/** New members go to a random position of the probe round, so that none waits a full round. */
export function insertIntoProbeOrder (state: State, id: MemberId): void {
  // With the ring, the round is this node's successors, taken afresh each round.
  if (ringSuccessors(state) != null || state.probeOrder.includes(id)) return
  const at = randomInt(state.random, state.probeOrder.length + 1)
  state.probeOrder.splice(at, 0, id)
  if (at < state.probeIndex) state.probeIndex++
}

/** Forgets a member, remembering its incarnation so that stale gossip cannot resurrect it. */
export function reap (state: State, rec: MemberRecord): void {
  const m = rec.member
  state.members.delete(m.id)
  state.toldAccused.delete(m.id)
  track(state, rec)
  setNewest(state.tombstones, m.id, { incarnation: m.incarnation, bootId: m.bootId }, MAX_TOMBSTONES)
  state.broadcasts.drop(m.id)
  emit(state, 'member:reap', rec)
}
