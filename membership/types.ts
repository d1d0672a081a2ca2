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
 * - `partition`: a group of members went silent together (reserved for the
 *   partition detector).
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
  | ({ type: 'alive' } & MemberAnnouncement)
  | { type: 'suspect', id: MemberId, incarnation: number, from: MemberId }
  | { type: 'dead', id: MemberId, incarnation: number, from: MemberId, cause: FailureCause }
  | { type: 'leave', id: MemberId, incarnation: number }

/** One member's full state as exchanged by push-pull anti-entropy. */
export interface SyncEntry extends MemberAnnouncement {
  status: MemberStatus
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
  /** Gossip-interval dissemination with no probe attached. */
  | { type: 'gossip', updates: Update[] }

export type MessageType = Message['type']

/** Where to send: a known member id, or only addresses (a seed whose id we do not know yet). */
export interface Destination {
  id?: MemberId
  addrs: string[]
}

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
 * Side effects returned by the core, in the order they should be performed.
 * Events are emitted in the order the core decided them; for one member they
 * always follow its status transitions in order.
 */
export type Effect =
  | { kind: 'send', to: Destination, msg: Message }
  | { kind: 'event', event: MemberEvent }

/** A deterministic random source injected into the core. Returns [0, 1). */
export type Random = () => number
