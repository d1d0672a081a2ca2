/**
 * Membership invariants checked on every member event of a simulated
 * cluster, whatever the faults: no member accuses itself, and the
 * incarnation an observer sees of one boot of a member never goes down.
 */
import type { SimCluster } from '../../testkit/sim/cluster.ts'

/** Hooks the checks into `cluster`; the returned list collects violations as they happen. */
export function checkMembership (cluster: SimCluster): string[] {
  const violations: string[] = []
  /** `${observer} ${member} ${bootId}` → the highest incarnation seen. */
  const incarnations = new Map<string, number>()
  cluster.onEvent(e => {
    const member = e.event.member
    if (member.id === e.observer) violations.push(`${e.at} ms: ${e.observer} emitted ${e.event.type} about itself`)
    if (e.event.type === 'member:reap') return
    const key = `${e.observer} ${member.id} ${member.bootId}`
    const before = incarnations.get(key) ?? -1
    if (member.incarnation < before) {
      violations.push(`${e.at} ms: ${e.observer} saw ${member.id} go from incarnation ${before} to ${member.incarnation}`)
    }
    incarnations.set(key, Math.max(before, member.incarnation))
  })
  return violations
}
