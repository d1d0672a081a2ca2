/**
 * The contract of the sans-IO membership core: what goes in, what comes out.
 *
 * Nothing here knows about libp2p, sockets or clocks. A member is identified by
 * its libp2p peer id (a string) because that identity is authenticated by the
 * transport (noise) and survives restarts when the key is persisted; the
 * human-readable `name` is a label carried alongside.
 */

/** A member's libp2p peer id, as a string. */
export type MemberId = string

export type MemberStatus = 'alive' | 'suspect' | 'failed' | 'left'

/**
 * Why a member is not alive, as far as this node can tell.
 * - `crash`: the process is gone (connection refused where the host answers,
 *   or it came back with a new boot id).
 * - `unreachable`: silence (timeouts); could be a dead host or a cut network.
 * - `partition`: silence, but judged a network partition: at least
 *   partitionGroupMin members went silent within partitionWindowMs, or this
 *   node is on the minority side of the last stable membership (partition.ts).
 * - `left`: it said goodbye.
 */
export type FailureCause = 'crash' | 'unreachable' | 'partition' | 'left'

/** How a send or probe failed, as reported by the transport. */
export type DeliveryFailure = 'refused' | 'timeout' | 'error'

/** The identity-and-address part of a member, as gossiped in `alive`. */
export interface MemberAnnouncement {
  id: MemberId
  name: string
  /** Multiaddrs (strings) the member listens on, without `/p2p/<id>`. */
  addrs: string[]
  tags: Record<string, string>
  incarnation: number
  /** Random per process start; a new boot id means the member restarted. */
  bootId: string
}

/** A member record as this node sees it. */
export interface Member extends MemberAnnouncement {
  status: MemberStatus
  /** Set for every status other than `alive`. */
  cause?: FailureCause
  /** Core time (ms) of the last status change. */
  statusSince: number
}

/** A piggybacked membership update (infection-style dissemination). */
export type Update =
  /** `signature`: the member's own, of signatures.ts signedAlivePayload (absent when statements are not signed). */
  | ({ type: 'alive', signature?: Uint8Array } & MemberAnnouncement)
  /** `signature`: the accuser's (`from`), of signatures.ts accusationPayload. */
  | { type: 'suspect', id: MemberId, incarnation: number, from: MemberId, signature?: Uint8Array }
  /** `signature`: the accuser's (`from`), of signatures.ts accusationPayload (the cause is an opinion, not signed). */
  | { type: 'dead', id: MemberId, incarnation: number, from: MemberId, cause: FailureCause, signature?: Uint8Array }
  /**
   * `signature`: the member's own, of signatures.ts signedLeavePayload; or, with
   * `from`, a forced leave (an operator's force-leave through member `from`) signed
   * by `from`, which retires only a member that is failed in the receiver's view.
   */
  | { type: 'leave', id: MemberId, incarnation: number, from?: MemberId, signature?: Uint8Array }

/** One member's full state as exchanged by push-pull anti-entropy. */
export interface SyncEntry extends MemberAnnouncement {
  status: MemberStatus
  /**
   * The member's signature (signatures.ts): of its `leave` for a `left` entry,
   * otherwise of its `alive` at `signedIncarnation`.
   */
  signature?: Uint8Array
  /** Incarnation of the signed `alive` when a suspicion raised `incarnation` past it. Default: `incarnation`. */
  signedIncarnation?: number
  /** A `left` entry retired by force-leave: the member that signed it (then `signature` is that member's). */
  forcedBy?: MemberId
}

/**
 * Wire-level messages. The sender is not in the message: the transport
 * authenticates the remote peer and passes its id to `receive()`.
 */
export type Message =
  /** Direct probe. `target` is the id the prober believes it is talking to. */
  | { type: 'ping', seq: number, target: MemberId, updates: Update[] }
  /** Ask the receiver to probe `target` on our behalf (SWIM ping-req). */
  | { type: 'ping-req', seq: number, target: MemberId, targetAddrs: string[], nack: boolean, updates: Update[] }
  | { type: 'ack', seq: number, updates: Update[] }
  /** Lifeguard: an indirect prober could not reach the target in time. */
  | { type: 'nack', seq: number, reason: DeliveryFailure, updates: Update[] }
  /** Push-pull full-state exchange; `reply` asks the receiver to answer with its own state. */
  | { type: 'sync', reply: boolean, join: boolean, members: SyncEntry[] }
  /**
   * Push-pull's first step: a digest of the sender's view (digest.ts). A receiver
   * whose own view differs starts the full exchange (a `sync` asking for a reply).
   */
  | { type: 'digest', members: number, hash: number }
  /** Gossip-interval dissemination with no probe attached. */
  | { type: 'gossip', updates: Update[] }

export type MessageType = Message['type']

/** Where to send: a known member id, or only addresses (a seed whose id we do not know yet). */
export interface Destination {
  id?: MemberId
  addrs: string[]
}

/**
 * `member:update`: tags or addresses changed, or the cause of a failed member
 * was revised (`unreachable` -> `partition`, see partition.ts).
 */
export type MemberEventType =
  | 'member:join'
  | 'member:alive'
  | 'member:suspect'
  | 'member:failed'
  | 'member:leave'
  | 'member:update'
  | 'member:reap'

export interface MemberEvent {
  type: MemberEventType
  member: Member
}

/**
 * Where this node stands relative to the last stable membership (partition.ts):
 * `majority` when more than half of it is alive or suspect in our view,
 * `minority` when fewer than half, `unknown` at exactly half, before any stable
 * membership exists, or when it has at most 2 members.
 */
export type Side = 'majority' | 'minority' | 'unknown'

export interface Health {
  side: Side
  /** Members (this node included) alive or suspect in our view. */
  componentSize: number
  /** Members of the last stable membership (0 before there is one). */
  stableSize: number
}

export type ClusterEventType = 'partition:detected' | 'partition:healed'

/**
 * A partition episode begins (`partition:detected`: a group of members was
 * judged partitioned, or this side became the minority; emitted again if the
 * side turns minority later in the same episode) or ends (`partition:healed`:
 * every member of the group is alive again, or left, or was forgotten after
 * partitionForgetMs, and this side is not the minority).
 * `members`: the partition group (detected: at that moment; healed: every
 * member that was in it during the episode), sorted.
 */
export interface ClusterEvent extends Health {
  type: ClusterEventType
  members: MemberId[]
}

/**
 * The progress of a join (`core.join`): a join could not be delivered to a
 * seed (it is sent again in `retryInMs`), or a seed answered it.
 */
export type JoinEvent =
  | { type: 'join:failed', seed: Destination, reason: DeliveryFailure, retryInMs: number }
  | { type: 'join:done', via: MemberId }

/**
 * Side effects returned by the core, in the order they should be performed.
 * Events are emitted in the order the core decided them; for one member they
 * always follow its status transitions in order.
 */
export type Effect =
  | { kind: 'send', to: Destination, msg: Message }
  | { kind: 'event', event: MemberEvent }
  | { kind: 'cluster', event: ClusterEvent }
  | { kind: 'join', event: JoinEvent }
  /**
   * A direct exchange with this member went unanswered (our probe timed out, or a
   * probe we relayed did): the path we use may be dead while others work. The
   * transport should move to another of the member's addresses (multi-path).
   */
  | { kind: 'path-failed', id: MemberId }

/** A deterministic random source injected into the core. Returns [0, 1). */
export type Random = () => number
