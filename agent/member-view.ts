/**
 * The public shape of a member: what `agent members --json`, `GET /v1/members`,
 * the events and `agent.members()` all return.
 */
import type { FailureCause, Member, MemberStatus } from '../membership/index.ts'

export interface MemberView {
  name: string
  peerId: string
  status: MemberStatus
  /** Why it is not alive (absent while alive). */
  cause?: FailureCause
  addrs: string[]
  incarnation: number
  tags: Record<string, string>
  bootId: string
  /** Wall-clock time of the last status change, ISO 8601. */
  statusSince: string
}

/**
 * @param coreNow the membership core's current time, so that its monotonic
 *   `statusSince` can be turned into wall-clock time.
 */
export function toMemberView (member: Member, coreNow: number, wallNow: number = Date.now()): MemberView {
  const view: MemberView = {
    name: member.name,
    peerId: member.id,
    status: member.status,
    addrs: [...member.addrs],
    incarnation: member.incarnation,
    tags: { ...member.tags },
    bootId: member.bootId,
    statusSince: new Date(wallNow - (coreNow - member.statusSince)).toISOString()
  }
  if (member.cause != null && member.status !== 'alive') view.cause = member.cause
  return view
}
