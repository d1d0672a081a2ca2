/**
 * The SWIM transport's public types (its handlers, its stats, the transport
 * interface and its protocol id) and the few internal types its parts share.
 * The implementation is split by concern: swim-transport.ts wires the parts.
 */
import type { SwimInputs, SwimSender } from '../membership/ports.ts'
import type { PathView } from './paths.ts'
import type { TransportConfig } from './config.ts'
import type { RttHistogram } from './rtt-histogram.ts'
import type { Libp2p, Logger } from '@libp2p/interface'

export { SWIM_PROTOCOL } from './protocols.ts'

/** The SWIM port's inputs (membership/ports.ts), and path changes, which only this transport sees. */
export interface SwimTransportHandlers extends SwimInputs {
  /** A path to peer `id` changed state (up, down); see paths.ts. Optional. */
  onPathChange?: (id: string) => void
  /** Peers whose connections are never closed for idleness: the membership's gossip neighbours. Optional. */
  neighbours?: () => readonly string[]
  /** Peers that have this node among their gossip neighbours: their connections are not closed for idleness either. Optional. */
  neighbourOf?: (peer: string) => boolean
}

/** Monotonic counters. */
export interface SwimTransportStats {
  /** Valid messages delivered to onMessage. */
  messagesIn: number
  /** Frames handed to a stream. */
  messagesOut: number
  /** messagesIn and messagesOut by message type (ping, ping-req, ack, nack, sync, digest, gossip). */
  messagesByType: { in: Record<string, number>, out: Record<string, number> }
  /** Round trips of direct pings (sent to an ack over the same peer), for agent_probe_duration_seconds. */
  pingRtt: RttHistogram
  /** Inbound frame bytes (bodies, valid or not). */
  bytesIn: number
  /** Outbound frame bytes, length prefix included. */
  bytesOut: number
  dropped: {
    /** Inbound frames that did not decode or validate, bad length prefixes, truncated frames. */
    malformed: number
    /** Inbound frames over maxMessageBytes, syncs in parts over their bounds (sync-parts.ts), and outbound messages that would be (never sent). */
    oversized: number
    /** Inbound frames of another wire version. */
    unsupportedVersion: number
    /** Outbound messages reported to onDeliveryFailed because a dial, stream or encoding failed. */
    sendFailed: number
    /** Outbound messages dropped because the peer's queue was full (slow or frozen peer). */
    backpressure: number
    /** Inbound frames over the sender's rate limit (TransportConfig.inbound*PerPeer), dropped undecoded. */
    rateLimited: number
  }
  /** Connections abandoned by switchPath for another path. */
  pathSwitches: number
  /** Peers disconnected for sending a burst's worth of frames over the rate limit within a second. */
  peersDisconnected: number
  /**
   * Gossip sends to a member with no connection that waited before dialling
   * (gossip/dial-yield.ts): `yielded` for the member's own dial (this node
   * has the larger id), `settled` for the ring to settle (the smaller id);
   * how many waits a connection ended (mostly the member's dial), and how
   * many ended with the member no longer a neighbour (dropped undialled).
   */
  gossipDialWaits: { yielded: number, settled: number, connected: number, noLongerNeighbour: number }
  /** Pings that had to wait for a dial (reported to onConnecting): their probes' clocks waited too. */
  pingsWaitedForConnection: number
  /** TCP handshakes made by checkPaths, and how many of them failed. */
  pathChecks: number
  pathCheckFailures: number
  /** Connections closed because SWIM had not used them for idleConnectionCloseMs (gossip/neighbour-connections.ts). */
  idleConnectionsClosed: number
  /** Connections to gossip neighbours that had none, opened in the background (gossip/neighbour-connections.ts). */
  neighbourConnectionsOpened: number
  /** Connections open now, to any peer. */
  connections: number
  /**
   * Connections opened since start (each one a TCP and noise handshake, the
   * largest CPU cost of membership traffic: docs/scale.md), by who dialled.
   */
  connectionsOpened: { inbound: number, outbound: number }
}

export interface SwimTransport extends SwimSender {
  /** Registers the protocol handler and the disconnect listener. Idempotent. */
  start: () => Promise<void>
  /**
   * Stops accepting streams, gives queued frames up to stopFlushTimeoutMs to
   * go out, then aborts every stream and pending dial. No handler is called
   * after it returns; messages still queued are dropped without a report.
   */
  stop: () => Promise<void>
  /**
   * The path to peer `id` looks dead (probes over it went unanswered) although
   * the peer may be alive: abort its connections and, on the next dial, try its
   * addresses on other hosts/networks first. This is what keeps a member whose
   * first network is cut reachable over its second.
   */
  switchPath: (id: string) => void
  /**
   * Peer `id`'s announced addresses with the state of each one's path (up,
   * down, unknown), the last ping round trip over it and its last error.
   */
  paths: (id: string, addrs: readonly string[]) => PathView[]
  /**
   * Tests, with a bare TCP handshake bounded by `timeoutMs`, up to
   * `maxPathChecksPerRound` paths of these members that have had neither
   * traffic nor a check for `staleAfterMs`. Never throws; results arrive via
   * onPathChange. Addresses that are this node's own are skipped.
   */
  checkPaths: (members: ReadonlyArray<{ id: string, addrs: readonly string[] }>, staleAfterMs: number, timeoutMs: number) => void
  /** Drops what is known of peer `id`'s paths (the member was forgotten). */
  forgetPaths: (id: string) => void
  stats: () => SwimTransportStats
}

// ---------------------------------------------------------------------------
// Internal: shared by the transport's parts, not re-exported.

/** The counters the parts bump; the rest of SwimTransportStats is read when asked for. */
export type SwimCounters = Omit<SwimTransportStats, 'idleConnectionsClosed' | 'neighbourConnectionsOpened' | 'connections' | 'connectionsOpened'>

/** The transport's life cycle; every part checks it before calling a handler. */
export type SwimTransportState = 'new' | 'started' | 'stopping' | 'stopped'

/** What every part of the transport is given (channels, paths monitor, inbound reader); each adds its own. */
export interface SwimPartOptions {
  libp2p: Libp2p
  config: TransportConfig
  log: Logger
  counters: SwimCounters
  state: () => SwimTransportState
}
