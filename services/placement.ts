/**
 * Where a service's instances belong, computed the same way by every member
 * from the same inputs, so no leader is needed: eligible members are ranked
 * by weighted rendezvous hashing of the service name (workloads/rendezvous.ts),
 * weight falling with the load each member gossips.
 *
 * Placement is sticky: members already running an instance keep it (best
 * ranked first when there are too many), and only the missing instances go to
 * the best ranked members not running one. A member joining therefore never
 * moves a healthy instance; a failed or ineligible one is replaced.
 */
import { rank } from '../workloads/rendezvous.ts'
import type { MemberId, ServiceDefinition } from './types.ts'

export interface PlacementCandidate {
  id: MemberId
  /** Instances plus busy task slots the member reported. */
  load: number
  /** The member runs an instance of this service now. */
  running: boolean
}

/** Load weight: a member with nothing to do weighs 1, each unit of load lowers it. */
export function loadWeight (load: number): number {
  return 1 / (1 + Math.max(0, load))
}

/** The members that should run `definition`, best first; fewer than `replicas` when too few are eligible (under-placed). */
export function place (definition: ServiceDefinition, eligible: readonly PlacementCandidate[]): MemberId[] {
  const order = rank(definition.name, eligible.map(c => ({ id: c.id, weight: loadWeight(c.load) })))
  const running = new Set(eligible.filter(c => c.running).map(c => c.id))
  const keep = order.filter(id => running.has(id)).slice(0, definition.replicas)
  const fill = order.filter(id => !running.has(id)).slice(0, definition.replicas - keep.length)
  return [...keep, ...fill]
}

/** Whether a member with these tags may run a service constrained to `wanted`. */
export function tagsMatch (wanted: Record<string, string>, tags: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(wanted)) if (tags[key] !== value) return false
  return true
}
