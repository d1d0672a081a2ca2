// @ts-nocheck: a frozen copy of membership/apply.ts before the flat-cost index (membership-flat-lockstep.test.ts)
/**
 * State merge rules (memberlist's aliveNode / suspectNode / deadNode, plus
 * leave and boot ids). Each function applies one update if the rules allow,
 * re-broadcasts what it applied, emits member events, and refutes updates
 * that accuse this node.
 *
 * Ordering by incarnation: `alive` needs a strictly higher incarnation (or a
 * new boot id at an equal or higher one: a restart); `suspect` needs >= and an
 * alive member (or confirms a running suspicion); `dead` needs >= and a member
 * that is not failed or left; `leave` needs >= and a member that has not left.
 */
import type { FailureCause, Member, MemberAnnouncement, MemberId, SyncEntry, Update } from '../../../membership/types.ts'
import { expectedConfirmations, suspicionMaxTimeoutMs, suspicionMinTimeoutMs } from '../../../membership/formulas.ts'
import { randomInt } from '../../../membership/random.ts'
import { confirmSuspicion, markRefused, startSuspicion, type Suspicion } from './suspicion.ts'
import { relabelPartition, silentVerdict } from '../../../membership/partition.ts'
import { signAccusation, verifyAccusation, verifyAlive, verifyLeave } from '../../../membership/signatures.ts'
import { pushPullEarlyAfterVerdict } from '../../../membership/push-pull-schedule.ts'
import { aliveUpdate, broadcast, emit, liveCount, MAX_TOMBSTONES, ringSuccessors, type MemberRecord, type State } from './state.ts'

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
  const ak = Object.keys(a.tags)
  const bk = Object.keys(b.tags)
  return ak.length === bk.length && ak.every(k => Object.hasOwn(b.tags, k) && a.tags[k] === b.tags[k])
}

export function applyAlive (state: State, a: AliveUpdate): void {
  const now = state.now
  if (a.id === state.self.id) {
    if (state.self.status === 'left') return
    if (a.incarnation < state.self.incarnation) return
    if (a.incarnation === state.self.incarnation && sameAnnouncement(a, state.self)) return
    // Only our own signed claims (a previous boot) make us refute: a forged one could
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
    const member: Member = {
      id: a.id, name: a.name, addrs: [...a.addrs], tags: { ...a.tags }, incarnation: a.incarnation, bootId: a.bootId,
      status: 'alive', statusSince: now
    }
    // A node restarted without its key comes back under a new peer id but the same
    // name: the failed or departed record of that name is the same machine, so it is
    // forgotten now rather than listed beside its successor until it is reaped.
    for (const old of [...state.members.values()]) {
      if (old.member.name === a.name && (old.member.status === 'failed' || old.member.status === 'left')) reap(state, old)
    }
    // statusSince: read from the record by the live partition.ts (adapter, see state.ts changeMember)
    state.members.set(a.id, { member, refused: false, lastToldAt: -Infinity, ...claimOf(a), get statusSince () { return this.member.statusSince } })
    insertIntoProbeOrder(state, a.id)
    state.stats.updatesApplied++
    emit(state, 'member:join', member)
    broadcast(state, a)
    return
  }
  const m = rec.member
  const newBoot = a.bootId !== m.bootId
  if (!(a.incarnation > m.incarnation || (newBoot && a.incarnation >= m.incarnation))) return
  if (!verifyAlive(state, a)) return
  rec.claim = claimOf(a).claim
  const previous = m.status
  const changed = !sameAnnouncement(a, m)
  m.name = a.name
  m.addrs = [...a.addrs]
  m.tags = { ...a.tags }
  m.incarnation = a.incarnation
  m.bootId = a.bootId
  m.status = 'alive'
  delete m.cause
  if (previous !== 'alive') m.statusSince = now
  rec.suspicion = undefined
  rec.refused = false
  state.stats.updatesApplied++
  if (previous === 'failed' || previous === 'left') {
    insertIntoProbeOrder(state, a.id)
    emit(state, newBoot || previous === 'left' ? 'member:join' : 'member:alive', m)
  } else if (previous === 'suspect') {
    emit(state, 'member:alive', m)
  } else if (changed) {
    emit(state, 'member:update', m)
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
    // (added after the freeze, as in merge.ts resuspect: a newer incarnation's suspicion starts afresh)
    if (s.incarnation > m.incarnation && rec.suspicion != null) {
      m.incarnation = s.incarnation
      rec.suspicion = newSuspicion(state, rec, s.from)
      state.stats.updatesApplied++
      broadcast(state, s)
      return false
    }
    m.incarnation = s.incarnation
    if (rec.suspicion != null && confirmSuspicion(rec.suspicion, s.from)) {
      // A new independent confirmation: pass it on so that others can count it too.
      broadcast(state, s)
      state.stats.updatesApplied++
    }
    return false
  }
  if (m.status !== 'alive') return false
  if (!verifyAccusation(state, s)) return false
  m.status = 'suspect'
  m.incarnation = s.incarnation
  m.cause = rec.refused ? 'crash' : 'unreachable'
  m.statusSince = state.now
  rec.suspicion = newSuspicion(state, rec, s.from)
  state.stats.updatesApplied++
  emit(state, 'member:suspect', m)
  broadcast(state, s)
  return true
}

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
  m.status = 'failed'
  m.incarnation = d.incarnation
  m.statusSince = state.now
  rec.suspicion = undefined
  // The cause in the update is the sender's opinion. Crash evidence (ours or the
  // sender's) is kept; silence gets this node's own verdict (partition.ts).
  let relabel: MemberRecord[] = []
  if (rec.refused || d.cause === 'crash') m.cause = 'crash'
  else if (d.cause === 'left') m.cause = 'left'
  else {
    const verdict = silentVerdict(state, rec)
    m.cause = verdict.cause
    relabel = verdict.relabel
  }
  state.stats.updatesApplied++
  emit(state, 'member:failed', m)
  relabelPartition(state, relabel)
  broadcast(state, d.from === state.self.id ? { ...d, cause: m.cause } : d)
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
  if (!verifyLeave(state, l)) return
  rec.leaveSignature = l.signature
  m.status = 'left'
  m.incarnation = l.incarnation
  m.cause = 'left'
  m.statusSince = state.now
  rec.suspicion = undefined
  rec.refused = false
  state.stats.updatesApplied++
  emit(state, 'member:leave', m)
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
    rec.member.cause = 'crash'
    markRefused(rec.suspicion, state.now, state.config.refusedSuspicionTimeoutMs)
  }
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
    if (m.status === 'suspect' && m.cause === 'crash') m.cause = 'unreachable'
    return
  }
  rec.suspicion = undefined
  m.status = 'alive'
  delete m.cause
  m.statusSince = state.now
  state.broadcasts.drop(m.id, u => u.type === 'suspect' && u.from === state.self.id)
  emit(state, 'member:alive', m)
}

/**
 * Push-pull merge. Remote `failed` is taken as `suspect` (as memberlist does):
 * a peer's verdict starts our own suspicion instead of killing the member
 * outright, so one confused peer cannot fail a live member everywhere. As in
 * memberlist the suspicion is recorded in our own name (the sender's view is
 * not an independent probe result).
 */
export function mergeSync (state: State, entries: SyncEntry[], sender: MemberId): void {
  const from = state.self.id
  for (const e of entries) {
    const known = e.id === state.self.id || state.members.has(e.id)
    switch (e.status) {
      case 'alive':
        applyAlive(state, toAlive(e))
        break
      case 'suspect':
        if (!known) applyAlive(state, toAlive(e))
        applySuspect(state, signAccusation(state, { type: 'suspect', id: e.id, incarnation: e.incarnation, from }))
        confirmedBySender(state, e.id, e.incarnation, sender)
        break
      case 'failed':
        if (e.id === state.self.id) pushPullEarlyAfterVerdict(state, e.incarnation)
        if (known) applySuspect(state, signAccusation(state, { type: 'suspect', id: e.id, incarnation: e.incarnation, from }))
        confirmedBySender(state, e.id, e.incarnation, sender)
        break
      case 'left':
        if (known) applyLeave(state, withSignature<LeaveUpdate>({ type: 'leave', id: e.id, incarnation: e.incarnation }, e.signature))
        break
    }
  }
}

// mirrors membership/merge.ts: the sender's word counts as one confirmation
function confirmedBySender (state: State, id: MemberId, incarnation: number, sender: MemberId): void {
  const rec = state.members.get(id)
  if (rec?.suspicion == null || rec.member.status !== 'suspect' || rec.member.incarnation !== incarnation || sender === id) return
  confirmSuspicion(rec.suspicion, sender)
}

/** The entry's alive claim, at the incarnation its signature covers. */
function toAlive (e: SyncEntry): AliveUpdate {
  const incarnation = e.signedIncarnation ?? e.incarnation
  return withSignature<AliveUpdate>({ type: 'alive', id: e.id, name: e.name, addrs: [...e.addrs], tags: { ...e.tags }, incarnation, bootId: e.bootId }, e.signature)
}

function withSignature<T extends { signature?: Uint8Array }> (claim: T, signature: Uint8Array | undefined): T {
  if (signature != null) claim.signature = signature
  return claim
}

function claimOf (a: AliveUpdate): { claim?: { incarnation: number, signature: Uint8Array } } {
  return a.signature == null ? {} : { claim: { incarnation: a.incarnation, signature: a.signature } }
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
  state.tombstones.delete(m.id)
  state.tombstones.set(m.id, { incarnation: m.incarnation, bootId: m.bootId })
  if (state.tombstones.size > MAX_TOMBSTONES) {
    const oldest = state.tombstones.keys().next().value
    if (oldest != null) state.tombstones.delete(oldest)
  }
  state.broadcasts.drop(m.id)
  emit(state, 'member:reap', m)
}
