/**
 * This node's own changes: leaving the cluster (a signed leave, told at once
 * to those who probe us), new tags or addresses (a new incarnation), and an
 * operator's force-leave of a failed member.
 */
import type { MemberId, Update } from './types.ts'
import { signForcedLeave, signLeave } from './signatures.ts'
import { applyLeave } from './merge.ts'
import { aliveUpdate, broadcast, destinationOf, isLive, isSelfLeft, send, type State } from './state.ts'
import { ringNeighbours } from './ring-view.ts'

export function leaveCluster (state: State): void {
  if (isSelfLeft(state)) return
  const self = state.self
  self.incarnation++
  self.status = 'left'
  self.cause = 'left'
  self.statusSince = state.now
  const leave: Update = { type: 'leave', id: self.id, incarnation: self.incarnation }
  state.selfLeaveSignature = signLeave(state, self.id, self.incarnation)
  if (state.selfLeaveSignature != null) leave.signature = state.selfLeaveSignature
  broadcast(state, leave)
  state.probes.clear()
  state.relays.clear()
  // Tell those who probe us directly (everyone, or with the ring our neighbourhood, which holds
  // our predecessors): waiting for gossip would keep them probing a node that is gone.
  const told = new Set<MemberId>()
  const direct = ringNeighbours(state) ?? [...state.members.values()].filter(rec => isLive(rec.member)).map(rec => rec.member.id)
  for (const id of direct) {
    told.add(id)
    send(state, destinationOf(state, id), { type: 'gossip', updates: [{ ...leave }] })
  }
  // Leaving while the join is unanswered: the seeds may already list us.
  for (const seed of state.join?.seeds ?? []) {
    if (seed.id == null || !told.has(seed.id)) send(state, { ...seed, addrs: [...seed.addrs] }, { type: 'gossip', updates: [{ ...leave }] })
  }
  state.join = undefined
}

/** New tags and/or addresses for this node, announced with a new incarnation. */
export function updateSelf (state: State, change: { tags?: Record<string, string>, addrs?: string[] }): void {
  if (isSelfLeft(state) || change == null) return
  if (change.tags != null) state.self.tags = { ...change.tags }
  if (change.addrs != null) state.self.addrs = [...change.addrs]
  state.self.incarnation++
  broadcast(state, aliveUpdate(state, state.self))
}

/**
 * Retires a member this node holds failed (Serf's force-leave): it becomes
 * `left` here and, by gossip and push-pull, wherever it is failed too, so it is
 * reaped after reapLeftAfterMs and no longer redialed. False (nothing done)
 * when the member is unknown or not failed here.
 */
export function forceLeave (state: State, id: MemberId): boolean {
  const m = state.members.get(id)?.member
  if (isSelfLeft(state) || m?.status !== 'failed') return false
  applyLeave(state, signForcedLeave(state, id, m.incarnation))
  return true
}
