/**
 * Serf's `force-leave`: an operator retires members this agent holds failed.
 * They become `left` here, and wherever else they are failed (a forced leave
 * signed by this agent, membership/self-changes.ts), so they are no longer
 * redialed and are forgotten after reapForcedLeftAfterMs. A member that is
 * alive or suspect anywhere is not retired there: it is not dead.
 */
import type { Effect, Member, Membership } from '../membership/index.ts'

/** Why a force-leave did nothing; `status` is the control API's answer (404 unknown, 409 not failed). */
export class ForceLeaveError extends Error {
  override name = 'ForceLeaveError'
  readonly status: 404 | 409
  constructor (status: 404 | 409, message: string) {
    super(message)
    this.status = status
  }
}

/**
 * Retires the failed members called `name` (or with peer id `name`); returns
 * them as they are now. Throws ForceLeaveError when none is known or none is failed.
 */
export function retireFailed (core: Membership, drive: (input: (now: number) => Effect[]) => void, name: string): Member[] {
  const named = core.members().filter(m => m.id !== core.self.id && (m.name === name || m.id === name))
  if (named.length === 0) throw new ForceLeaveError(404, `no member called ${JSON.stringify(name)}`)
  // Retired members stop counting as service lease voters (services/cluster-view.ts): on
  // the minority side that would let it reach a majority of its own and run a singleton twice.
  if (core.health().side === 'minority') {
    throw new ForceLeaveError(409, 'this agent is on the minority side of a partition: run force-leave on the majority side, or heal the network')
  }
  const failed = named.filter(m => m.status === 'failed')
  if (failed.length === 0) {
    const m = named[0]
    throw new ForceLeaveError(409, `${m.name} is ${m.status}${m.status === 'left' ? ' already' : ''}: force-leave retires failed members only`)
  }
  for (const m of failed) drive(now => core.forceLeave(now, m.id))
  return failed.map(m => core.member(m.id) ?? m)
}
