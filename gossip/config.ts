/**
 * Parameters of the SWIM wire transport. Sizes are in bytes and durations in
 * milliseconds, and the field names say so. Each field says what it costs and
 * what it buys.
 */

export interface TransportConfig {
  /**
   * Largest encoded message (one length-prefixed frame, not counting the
   * prefix) sent or accepted. Larger inbound frames abort the stream; larger
   * outbound messages are not sent and are reported as failed.
   *
   * The largest message is a full push-pull `sync`: a member entry with a
   * 52-character peer id, a short name, two addresses, a few tags and a boot id
   * encodes to roughly 180-300 bytes, and a sync larger than this goes in
   * parts of at most this size (gossip/sync-parts.ts), so it bounds a frame,
   * not the cluster. Raising it costs memory: an inbound stream may buffer up
   * to one frame.
   */
  maxMessageBytes: number
  /**
   * Frame bytes the parts of one inbound sync may take together. Parts wait in
   * memory until the last one comes, so a peer could otherwise send parts that
   * never end; past this the stream is aborted and counted `oversized`. A full
   * state at the membership's bound of 16,384 members is under 4 MiB with
   * signatures and two addresses each; the default leaves room for tags.
   * Must be >= maxMessageBytes.
   */
  maxSyncBytes: number
  /**
   * Frame bytes the unfinished inbound syncs of every stream may hold at once
   * (a few full states of the largest cluster); a part past it aborts its
   * stream, counted `oversized`. Must be >= maxSyncBytes.
   */
  maxHeldSyncBytes: number
  /**
   * How long a dial (connect, noise handshake, muxer negotiation) and opening
   * the SWIM stream may take before the send is reported as `timeout`. Keep it
   * below the membership probe timeout budget of a suspicion round; too short
   * fails on slow links. The dial itself goes on (connectTimeoutMs).
   */
  dialTimeoutMs: number
  /**
   * How long a dial may go on after its send was reported failed. When many
   * agents start at once on few cores a handshake can take seconds; aborting
   * it at dialTimeoutMs threw that work away and the next send dialled again,
   * which cost more CPU and made the next handshake slower still. A dial that
   * completes late serves the sends after it. Must be >= dialTimeoutMs.
   */
  connectTimeoutMs: number
  /**
   * Inbound SWIM streams a remote may keep open at once on one connection
   * (libp2p counts per connection). A well-behaved peer uses one long-lived
   * stream; a few more allow a replacement to open while a broken one is still
   * closing. Extra streams are reset by libp2p.
   */
  maxInboundStreamsPerPeer: number
  /** Outbound SWIM streams to one peer per connection. We keep one; the slack covers replacement. */
  maxOutboundStreamsPerPeer: number
  /**
   * Bytes queued for one peer (frames waiting for a dial plus bytes the stream
   * has not handed to the socket yet). Past this bound, new messages to that
   * peer are dropped and counted as `backpressure`: a slow or frozen peer
   * cannot make this process grow without bound. Must be >= maxMessageBytes so
   * that one full sync always fits in an empty queue.
   */
  maxQueuedBytesPerPeer: number
  /** Messages queued for one peer; the same bound as `maxQueuedBytesPerPeer`, counted in messages. */
  maxQueuedMessagesPerPeer: number
  /**
   * On `stop()`, how long to wait for queued frames to be written and streams
   * to close cleanly (so that a `leave` sent just before stopping still goes
   * out) before aborting everything.
   */
  stopFlushTimeoutMs: number
  /**
   * Minimum time between two path switches to the same peer (`switchPath`).
   * A switch aborts the peer's connections and redials over its other
   * addresses: cheap once, a reconnect storm if repeated every probe.
   */
  pathSwitchMinIntervalMs: number
  /**
   * Inbound SWIM frames one peer may send per second, sustained (gossip/rate-limit.ts).
   * A member sends a few to a few tens per second (probes, acks, relays, gossip
   * every gossipIntervalMs); excess frames are dropped before decoding and
   * counted as `rateLimited`. Too low turns a busy but honest member into
   * lost probes (false suspicions); too high lets one peer keep the core busy.
   */
  inboundFramesPerSecondPerPeer: number
  /**
   * Frames one peer may send in a burst (join, partition heal, leave) above
   * the sustained rate. A peer that sends this many frames over the limit
   * within a second is disconnected (`peersDisconnected`).
   */
  inboundFrameBurstPerPeer: number
  /** Inbound bytes one peer may send per second, sustained: bounds decoding work per peer. */
  inboundBytesPerSecondPerPeer: number
  /** Inbound bytes one peer may send in a burst. Must be >= maxMessageBytes (one full sync). */
  inboundByteBurstPerPeer: number
  /**
   * Paths tested per round of `checkPaths` (the agent runs a round every half
   * probe interval, so at most twice this many tests a second on lan). A test
   * is a bare TCP handshake (connect, close) to an address whose path has been
   * silent for a probe interval: it finds a cut network on paths no probe
   * uses. It is not free: the remote's libp2p listener takes each one as an
   * inbound connection attempt; ~3.4 tests a second cost about 1 % of a core
   * per agent (docs/paths.md). Beyond this bound, each silent path is
   * re-tested every (silent paths / this) rounds, so a cut is seen later.
   */
  maxPathChecksPerRound: number
  /**
   * A connection with no SWIM frame either way for this long, and no work
   * stream open on it, is closed (gossip/neighbour-connections.ts): the connections
   * an agent holds follow its ring neighbourhood (membership/neighbors.ts),
   * not everyone it ever spoke to. The gossip neighbours' connections are
   * kept however idle (SwimTransportHandlers.neighbours); probe neighbours are
   * also probed every few probe intervals, so keep it well above
   * probeNeighbors × probeIntervalMs (the wan profile: 4 × 5 s). Shorter:
   * fewer connections held, more redials.
   */
  idleConnectionCloseMs: number
  /**
   * How long a send of gossip alone to a member with no connection waits for
   * that member's own dial when its id is the smaller (gossip/dial-yield.ts):
   * two members that start gossiping to each other at once would otherwise
   * both dial, a second handshake on both sides. It delays only gossip and
   * digests, and only the first send to a peer; 0 turns it off. Longer than
   * a handshake takes on a busy machine: 2 s let a fifth of a 50-agent
   * start's pairs connect twice, 5 s saved a tenth of its CPU (docs/scale.md).
   */
  gossipDialYieldMs: number
  /**
   * How long a send of gossip alone to a member with no connection waits
   * before this node dials it when its id is the smaller (the one that
   * dials: gossipDialYieldMs): a member that just became a gossip neighbour
   * is often not one a moment later while members join together, and a probe
   * between the two (which never waits) may open a connection meanwhile.
   * After the wait the gossip is dropped undialled if the member is no
   * longer a neighbour. 0 dials at once. Measured in 50-agent starts: a
   * quarter of the gossip dials went to members that were not neighbours
   * once the ring was whole, half of those left the neighbourhood within
   * 2 s (docs/scale.md, "Gossip that waits for the ring").
   */
  gossipDialSettleMs: number
}

/** Defaults for a LAN cluster of up to a few thousand members. */
export const DEFAULT_TRANSPORT_CONFIG: Readonly<TransportConfig> = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  maxSyncBytes: 8 * 1024 * 1024,
  maxHeldSyncBytes: 16 * 1024 * 1024,
  dialTimeoutMs: 2000,
  connectTimeoutMs: 10_000,
  maxInboundStreamsPerPeer: 4,
  maxOutboundStreamsPerPeer: 4,
  maxQueuedBytesPerPeer: 2 * 1024 * 1024,
  maxQueuedMessagesPerPeer: 1024,
  stopFlushTimeoutMs: 500,
  pathSwitchMinIntervalMs: 2000,
  inboundFramesPerSecondPerPeer: 200,
  inboundFrameBurstPerPeer: 400,
  inboundBytesPerSecondPerPeer: 2 * 1024 * 1024,
  inboundByteBurstPerPeer: 4 * 1024 * 1024,
  maxPathChecksPerRound: 4,
  idleConnectionCloseMs: 60_000,
  gossipDialYieldMs: 5000,
  gossipDialSettleMs: 2000
})

export class InvalidTransportConfigError extends Error {
  override name = 'InvalidTransportConfigError'
}

/** Validates a config and throws InvalidTransportConfigError naming the first bad field. */
export function validate (config: TransportConfig): TransportConfig {
  for (const key of Object.keys(DEFAULT_TRANSPORT_CONFIG) as Array<keyof TransportConfig>) {
    const value = config[key]
    const least = key === 'gossipDialYieldMs' || key === 'gossipDialSettleMs' ? 0 : 1
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < least) {
      throw new InvalidTransportConfigError(`${key} must be ${least === 0 ? 'a non-negative' : 'a positive'} integer, got ${String(value)}`)
    }
  }
  if (config.maxMessageBytes < 1024) {
    throw new InvalidTransportConfigError('maxMessageBytes must be >= 1024')
  }
  if (config.maxSyncBytes < config.maxMessageBytes) {
    throw new InvalidTransportConfigError('maxSyncBytes must be >= maxMessageBytes')
  }
  if (config.maxHeldSyncBytes < config.maxSyncBytes) {
    throw new InvalidTransportConfigError('maxHeldSyncBytes must be >= maxSyncBytes')
  }
  if (config.connectTimeoutMs < config.dialTimeoutMs) {
    throw new InvalidTransportConfigError('connectTimeoutMs must be >= dialTimeoutMs')
  }
  if (config.maxQueuedBytesPerPeer < config.maxMessageBytes) {
    throw new InvalidTransportConfigError('maxQueuedBytesPerPeer must be >= maxMessageBytes')
  }
  if (config.inboundByteBurstPerPeer < config.maxMessageBytes) {
    throw new InvalidTransportConfigError('inboundByteBurstPerPeer must be >= maxMessageBytes')
  }
  return config
}

/** A full config from the defaults and overrides, validated. Unknown keys are rejected. */
export function fromPartial (partial: Partial<TransportConfig> = {}): TransportConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_TRANSPORT_CONFIG)) {
      throw new InvalidTransportConfigError(`unknown transport option "${key}"`)
    }
  }
  const merged: TransportConfig = { ...DEFAULT_TRANSPORT_CONFIG }
  for (const [key, value] of Object.entries(partial) as Array<[keyof TransportConfig, number | undefined]>) {
    if (value !== undefined) merged[key] = value
  }
  return validate(merged)
}
