/**
 * Public face of the membership core: a sans-IO SWIM + Lifeguard state machine.
 *
 * Drive it with the current time and inputs; perform the effects it returns.
 * It never reads a clock, opens a socket or sets a timer: call `tick(now)` at
 * or after `nextDeadline()`.
 */
import type { MembershipConfig } from './config.ts'
import type { Signer } from './signatures.ts'
import type { ViewDigest } from './digest.ts'
import type { SharedViews } from './shared-views.ts'
import type { DeliveryFailure, Destination, Effect, Health, Member, MemberAnnouncement, MemberId, Message, Random } from './types.ts'

export type * from './types.ts'
export { fromPartial, validate, PROFILES, LAN, WAN, LOCAL, InvalidMembershipConfigError } from './config.ts'
export type { MembershipConfig, ProfileName } from './config.ts'
export { createMembership } from './core.ts'
export { viewDigest } from './digest.ts'
export { sharedViews } from './shared-views.ts'
export type { SharedViews } from './shared-views.ts'
export type { MemberState } from './member-states.ts'
export type { ViewDigest } from './digest.ts'
export { seededRandom } from './random.ts'
export { sameTags } from './state.ts'
export { sideOf } from './partition.ts'
export { CoreDriver } from './driver.ts'
export type { CoreDriverOptions, DrivenCore, DriverTimers } from './driver.ts'
export { swimInputs } from './ports.ts'
export type { SwimInputs, SwimSender } from './ports.ts'
export { accusationPayload, forcedLeavePayload, signedAlivePayload, signedLeavePayload } from './signatures.ts'
export type { Signer } from './signatures.ts'

export interface MembershipOptions {
  /** This node. `incarnation` is normally 0 at start. */
  self: MemberAnnouncement
  config: MembershipConfig
  random: Random
  /** Core time (ms) at creation. */
  now: number
  /**
   * A clock every member reads alike (the agent gives Date.now()), read at
   * `now`. With it, the members that probe one member take turns on a grid of
   * it (probe-turns.ts); without it, each goes round its successors in an
   * order and phase of its own.
   */
  sharedClockNow?: number
  /** Signs this node's alive and leave statements and checks others' (signatures.ts). Default: none, nothing signed or checked. */
  signer?: Signer
  /**
   * Members this node knows from its creation, alive: a simulator that starts
   * a cluster already settled (known-members.ts). Not news: no events, nothing
   * gossiped, and this node does not announce itself either (the others know
   * it from their lists). Their signatures are taken as given.
   */
  knownMembers?: ReadonlyArray<KnownMember>
  /** Shared by the cores of one process, the simulator's, so that N views of N members fit in memory (shared-views.ts). Default: none. */
  sharedViews?: SharedViews
}

/** A member given at creation (MembershipOptions.knownMembers): its announcement and its signature of it, as a sync entry carries them. */
export type KnownMember = MemberAnnouncement & { signature?: Uint8Array }

/** Counters for metrics and tests. All monotonically increasing. */
export interface MembershipStats {
  probesSent: number
  indirectProbesSent: number
  probeFailures: number
  suspicionsRaised: number
  refutations: number
  messagesReceived: number
  /** Messages dropped by the core as invalid (unknown sender for an ack, stale seq, bad field values...). */
  messagesIgnored: number
  updatesApplied: number
  syncsSent: number
  /** Of syncsSent, why: joins, answers to others' syncs, push-pull (after a digest that differed), reconnects to failed members, pulls from unknown senders. */
  syncsSentFor: { join: number, answer: number, pushPull: number, reconnect: number, stranger: number }
  /** Push-pull digests sent (sync.ts): each round's first step, and those that catch up a new neighbour (catchUpNewNeighbours). */
  digestsSent: number
  /** Digests received that differed from this node's view, each answered by a full exchange (counted in syncsSentFor.pushPull) unless declined. */
  digestsDiffered: number
  /** Requests for this node's full state (syncs asking a reply, digests that differed) within their member's syncAnswerGapMs: answered once at its end (sync-answers.ts). */
  syncsDeferred: number
  /** Requests for this node's full state declined: past syncAnswerMembersPerSecond, or too many members waiting. */
  syncsDeclined: number
  /** Alive and leave statements dropped because their signature was missing or not the member's (forgeries). */
  signaturesRejected: number
  /** Suspicions held past their timeout because refutations had lately taken about that long (suspicionRefutationMult). */
  suspicionsHeld: number
  /** Lifeguard local health: 0 is healthy. */
  localHealth: number
}

export interface Membership {
  /** This node's own record (status is `alive` until `leave()`, then `left`). */
  readonly self: Member
  /** Contact seeds (full push-pull sync) and keep retrying on tick until one answers. */
  join: (now: number, seeds: Destination[]) => Effect[]
  /** A message arrived from the authenticated peer `from`. */
  receive: (now: number, from: MemberId, msg: Message) => Effect[]
  /** The transport could not deliver `msg` to `to`. */
  deliveryFailed: (now: number, to: Destination, msg: Message, reason: DeliveryFailure) => Effect[]
  /**
   * `msg` waits for a connection to `to` that the transport is setting up: not
   * sent yet, so a ping's missing ack is no evidence until sentAfterConnecting
   * or deliveryFailed (membership/probe.ts).
   */
  connecting: (now: number, to: Destination, msg: Message) => Effect[]
  /** A message reported to connecting() went out on the new connection. */
  sentAfterConnecting: (now: number, to: Destination, msg: Message) => Effect[]
  /** A hint from the transport that the connection to `id` closed: probe it soon. */
  peerDisconnected: (now: number, id: MemberId) => Effect[]
  /** Advance timers. Call at or after nextDeadline(). */
  tick: (now: number) => Effect[]
  /** Graceful leave: mark self `left` and tell every member directly. */
  leave: (now: number) => Effect[]
  /**
   * An operator's force-leave: a member failed in this node's view becomes
   * `left` here and wherever others hold it failed (reaped sooner, no longer
   * redialed). Does nothing to a member that is not failed here.
   */
  forceLeave: (now: number, id: MemberId) => Effect[]
  /** Change this node's tags (or addresses) and announce it with a new incarnation. */
  update: (now: number, change: { tags?: Record<string, string>, addrs?: string[] }) => Effect[]
  /** Every known member including self, sorted by name then id. */
  members: () => Member[]
  member: (id: MemberId) => Member | undefined
  /**
   * The members this node gossips to: its ring neighbourhood (membership/neighbors.ts).
   * Empty while the cluster is too small for the ring: every member is probed in turn then.
   */
  neighbours: () => MemberId[]
  /** True when member `id` has this node among its neighbours (a long link of its lands here, say); false without the ring. */
  isNeighbourOf: (id: MemberId) => boolean
  /** The earliest time at which tick() has work to do; it may be now or past (news hurries a gossip round): tick at once then. */
  nextDeadline: () => number
  /**
   * The push-pull digest of this node's view (digest.ts): equal digests mean
   * the same members, boots, incarnations and live, failed or left, at a
   * chance of about 2^-53 of a false match.
   */
  viewDigest: () => ViewDigest
  stats: () => MembershipStats
  /**
   * Which side of a partition this node is on, as of the last input: see
   * partition.ts for the rules (last stable membership, side, causes).
   */
  health: () => Health
}
