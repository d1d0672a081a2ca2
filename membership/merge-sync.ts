/**
 * Merging a full state another member sent (a join's answer, a push-pull):
 * what it holds alive, suspect, failed or left, taken as our own view allows.
 */
import type { MemberId, SyncEntry, Update } from './types.ts'
import { confirmSuspicion } from './suspicion.ts'
import { signAccusation } from './signatures.ts'
import type { State } from './state.ts'
import { touchSuspicion } from './member-index.ts'
import { applyAlive, applyLeave, applySuspect } from './merge.ts'
import { pushPullEarlyAfterVerdict } from './push-pull-schedule.ts'

type AliveUpdate = Extract<Update, { type: 'alive' }>
type LeaveUpdate = Extract<Update, { type: 'leave' }>

/**
 * Push-pull merge of `sender`'s view. Remote `failed` is taken as `suspect`
 * (as memberlist does): a peer's verdict starts our own suspicion instead of
 * killing the member outright, so one confused peer cannot fail a live member
 * everywhere. As in memberlist the suspicion is recorded in our own name (we
 * cannot sign the sender's accusation). The sender's word counts as one
 * confirmation of it here (not passed on: others hear it from the sender):
 * a member that missed the gossip of a partition's verdicts learns them by
 * push-pull, after everyone else has them failed and no one is left to send
 * confirmations, and its suspicions ran near their maximum timeout (six times
 * the minimum) for want of any (bench/scale/analysis.md).
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
      case 'left': {
        const leave: LeaveUpdate = { type: 'leave', id: e.id, incarnation: e.incarnation }
        if (e.forcedBy != null) leave.from = e.forcedBy
        if (known) applyLeave(state, withSignature(leave, e.signature))
        break
      }
    }
  }
}

/** `sender` holds `id` suspect or failed at `incarnation`: a confirmation of our suspicion of that incarnation. */
function confirmedBySender (state: State, id: MemberId, incarnation: number, sender: MemberId): void {
  const rec = state.members.get(id)
  if (rec?.suspicion == null || rec.member.status !== 'suspect' || rec.member.incarnation !== incarnation || sender === id) return
  if (confirmSuspicion(rec.suspicion, sender)) touchSuspicion(state, rec)
}

/** The entry's alive statement, at the incarnation its signature covers (its addresses and tags not copied: see keepAddrs). */
function toAlive (e: SyncEntry): AliveUpdate {
  const incarnation = e.signedIncarnation ?? e.incarnation
  return withSignature<AliveUpdate>({ type: 'alive', id: e.id, name: e.name, addrs: e.addrs, tags: e.tags, incarnation, bootId: e.bootId }, e.signature)
}

function withSignature<T extends { signature?: Uint8Array }> (update: T, signature: Uint8Array | undefined): T {
  if (signature != null) update.signature = signature
  return update
}
