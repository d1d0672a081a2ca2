/**
 * Whom this node probes and gossips to, read from its ring (neighbors.ts)
 * and the configuration: the ring only once the cluster is larger than the
 * neighbourhood, so that a small cluster behaves exactly as memberlist.
 */
import type { MemberId } from './types.ts'
import type { State } from './state.ts'

/**
 * This node's probe targets on the ring (neighbors.ts): its successors, suspect
 * ones not counted; none (probe every live member in turn) without the ring or
 * while there are no more live members than probeNeighbors.
 */
export function ringSuccessors (state: State): MemberId[] | undefined {
  return probesAlongRing(state) ? state.ring.successors(state.config.probeNeighbors, id => isSuspect(state, id)) : undefined
}

function isSuspect (state: State, id: MemberId): boolean {
  return state.members.get(id)?.member.status === 'suspect'
}

/** True when members probe their ring successors (see ringSuccessors), not every member in turn. */
function probesAlongRing (state: State): boolean {
  const m = state.config.probeNeighbors
  return m > 0 && state.ring.size > m
}

/**
 * The members that probe `id` besides this node (its predecessors on the
 * ring), as this node sees the ring; none without the ring.
 */
export function ringProbersOf (state: State, id: MemberId): MemberId[] {
  return probesAlongRing(state) ? state.ring.predecessorsOf(id, state.config.probeNeighbors) : []
}

/**
 * The members this node gossips to, syncs with and asks for indirect probes
 * (neighbors.ts); none (every member) without the ring or while the
 * neighbourhood would hold every live member anyway, so that a small cluster
 * behaves exactly as memberlist.
 */
export function ringNeighbours (state: State): MemberId[] | undefined {
  return gossipsAlongRing(state) ? state.ring.neighbours(state.config.probeNeighbors, state.config.longLinks) : undefined
}

/** True when members gossip among their ring neighbourhoods (see ringNeighbours), not with every member. */
function gossipsAlongRing (state: State): boolean {
  const { probeNeighbors: m, longLinks } = state.config
  return m > 0 && state.ring.size > 2 * m + longLinks
}

/**
 * True when `id` has this node among its neighbours (as this node sees the
 * ring): its long links land here without it being one of this node's.
 * False without the ring, as ringNeighbours names no one then.
 */
export function inNeighbourhoodOf (state: State, id: MemberId): boolean {
  return gossipsAlongRing(state) && state.ring.inNeighbourhoodOf(id, state.config.probeNeighbors, state.config.longLinks)
}
