/**
 * The public shape of a member: what `agent members --json`, `GET /v1/members`,
 * the events and `agent.members()` all return. Also the shapes of the
 * partition events and of `GET /v1/health`.
 */
import type { ClusterEvent, FailureCause, Health, Member, MemberStatus, Side } from '../membership/index.ts'
import { isDegraded, type PathView } from '../gossip/paths.ts'

export type { PathView, PathState, PathError } from '../gossip/paths.ts'

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
  /**
   * This node's paths to the member, one per announced address (same order as
   * `addrs`): state `up`, `down` or `unknown` (never tried), the last ping
   * round trip over it and its last error (gossip/paths.ts). Empty for this node.
   */
  paths: PathView[]
  /** Alive, with at least one path down while another is up. */
  degraded: boolean
}

/**
 * @param coreNow the membership core's current time, so that its monotonic
 *   `statusSince` can be turned into wall-clock time.
 * @param paths this node's paths to the member (none for itself).
 */
export function toMemberView (member: Member, coreNow: number, paths: PathView[] = [], wallNow: number = Date.now()): MemberView {
  const view: MemberView = {
    name: member.name,
    peerId: member.id,
    status: member.status,
    addrs: [...member.addrs],
    incarnation: member.incarnation,
    tags: { ...member.tags },
    bootId: member.bootId,
    statusSince: new Date(wallNow - (coreNow - member.statusSince)).toISOString(),
    paths,
    degraded: member.status === 'alive' && isDegraded(paths)
  }
  if (member.cause != null && member.status !== 'alive') view.cause = member.cause
  return view
}

/**
 * The core's member events, plus two the agent derives: `member:degraded` (an
 * alive member's path went down while another is up: the flag turned on) and
 * `member:unreachable` (this node's verdict for the member became
 * `unreachable`; it follows the `member:suspect` or `member:failed` event that
 * carries that cause).
 */
export const MEMBER_EVENT_TYPES = ['member:join', 'member:alive', 'member:suspect', 'member:failed', 'member:leave', 'member:update', 'member:reap', 'member:degraded', 'member:unreachable'] as const
export const CLUSTER_EVENT_TYPES = ['partition:detected', 'partition:healed'] as const
export type MemberEventName = typeof MEMBER_EVENT_TYPES[number]
export type ClusterEventName = typeof CLUSTER_EVENT_TYPES[number]

/**
 * A partition episode began or ended (membership/partition.ts): this node's
 * side, the members it sees (itself included), the size of the last stable
 * membership, and the peer ids of the partition group.
 */
export interface ClusterEventView {
  type: ClusterEventName
  side: Side
  componentSize: number
  stableSize: number
  members: string[]
}

/** `GET /v1/health` and `agent.health()`. Member counts include this node. */
export interface HealthView extends Health {
  members: Record<'alive' | 'suspect' | 'failed' | 'left', number>
  /** False while a `--join` is under way (no seed has answered yet). */
  joined: boolean
  /** While not joined: the last failed attempt, e.g. "/ip4/10.0.0.5/tcp/7946 refused (is an agent listening there?)". */
  joinError?: string
}

export function toClusterEventView (event: ClusterEvent): ClusterEventView {
  return { type: event.type, side: event.side, componentSize: event.componentSize, stableSize: event.stableSize, members: [...event.members] }
}

export function toHealthView (health: Health, members: Member[], join: { joined: boolean, joinError?: string }): HealthView {
  const counts = { alive: 0, suspect: 0, failed: 0, left: 0 }
  for (const m of members) counts[m.status]++
  return { side: health.side, componentSize: health.componentSize, stableSize: health.stableSize, members: counts, ...join }
}
