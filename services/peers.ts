/**
 * Membership's members as the services core sees them: alive and suspect
 * members still count as running what they report (a suspicion alone moves
 * nothing), failed ones do not, left ones are no longer lease voters.
 */
import type { Member } from '../membership/types.ts'
import type { ServicePeer } from './types.ts'

export function toServicePeer (member: Member): ServicePeer {
  return {
    id: member.id,
    name: member.name,
    alive: member.status === 'alive' || member.status === 'suspect',
    left: member.status === 'left',
    tags: member.tags
  }
}
