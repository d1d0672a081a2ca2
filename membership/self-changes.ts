/**
 * This node's own changes: leaving the cluster (a signed leave, told at once
 * to those who probe us) and new tags or addresses (a new incarnation).
 */
import type { MemberId, Update } from './types.ts'
import { signLeave } from './signatures.ts'
import { aliveUpdate, broadcast, destinationOf, isLive, isSelfLeft, ringNeighbours, send, type State } from './state.ts'

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
