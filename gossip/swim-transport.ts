/**
 * The SWIM wire protocol on libp2p.
 *
 * Messages are datagram-like: no acknowledgement at this layer, no retries
 * beyond re-opening a broken stream once; the membership core's probe
 * timeouts deal with loss. Per remote peer we keep ONE long-lived outbound
 * stream on SWIM_PROTOCOL and write length-prefixed frames to it (see
 * codec.ts for the frame body). The remote's handler reads frames until EOF
 * and hands each decoded, validated message to `onMessage` with the
 * authenticated (noise) peer id of the connection.
 *
 * Guarantees:
 * - `send()` never throws and never blocks. Every failure is reported to
 *   `onDeliveryFailed`, always asynchronously (never from inside `send()`).
 * - Messages to one peer are written in the order `send()` was called.
 *   "Written" is all a datagram transport can promise: a message accepted by a
 *   stream that breaks afterwards is lost silently.
 * - Memory per peer is bounded (TransportConfig.maxQueued*PerPeer); past the
 *   bound messages are dropped (`backpressure`) and reported as `timeout`.
 * - Inbound garbage aborts the offending stream and is counted; it never
 *   throws out of the handler. The peer may open a new stream.
 * - Handlers are called one at a time from the event loop; an exception
 *   thrown by a handler is logged (`DEBUG=cluster:swim*`) and swallowed.
 */
import { setMaxListeners } from 'node:events'
import { connect as netConnect } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import { CODE_P2P, multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import { framingDrop } from './framing.ts'
import { decodeMessage, encodeMessage } from './codec.ts'
import { fromPartial } from './config.ts'
import { PeerRateLimiter } from './rate-limit.ts'
import { IdleConnections } from './idle-connections.ts'
import { WORK_PROTOCOL } from './work-transport.ts'
import { hostOf as hostOfAddr, PathTable, pathKey, type PathError, type PathView } from './paths.ts'
import type { TransportConfig } from './config.ts'
import type { DeliveryFailure, Destination, Message } from '../membership/types.ts'
import type { Connection, Libp2p, Logger, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export const SWIM_PROTOCOL = '/cluster/swim/1.0.0'

/** What a libp2p stream yields: one chunk per data frame. */
type StreamChunk = Stream extends AsyncIterable<infer T> ? T : never

/** Chunks (yamux data frames) a member's frame takes at most, in the chunk limit (readChunks): a full sync spans several. */
const CHUNKS_PER_FRAME = 4

/** Pings remembered for timing their acks; a few probe periods' worth in any cluster. */
const MAX_PINGS_IN_FLIGHT = 1024

export interface SwimTransportHandlers {
  /** A valid message arrived; `from` is the authenticated remote peer id. */
  onMessage: (from: string, msg: Message) => void
  /** `msg` could not be handed to a stream to `to`. */
  onDeliveryFailed: (to: Destination, msg: Message, reason: DeliveryFailure) => void
  /** The last connection to that peer closed (libp2p `peer:disconnect`). */
  onPeerDisconnected: (id: string) => void
  /** A path to peer `id` changed state (up, down); see paths.ts. Optional. */
  onPathChange?: (id: string) => void
}

/** Monotonic counters. */
export interface SwimTransportStats {
  /** Valid messages delivered to onMessage. */
  messagesIn: number
  /** Frames handed to a stream. */
  messagesOut: number
  /** Inbound frame bytes (bodies, valid or not). */
  bytesIn: number
  /** Outbound frame bytes, length prefix included. */
  bytesOut: number
  dropped: {
    /** Inbound frames that did not decode or validate, bad length prefixes, truncated frames. */
    malformed: number
    /** Inbound frames over maxMessageBytes, and outbound messages that would be (never sent). */
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
  /** TCP handshakes made by checkPaths, and how many of them failed. */
  pathChecks: number
  pathCheckFailures: number
  /** Connections closed because SWIM had not used them for idleConnectionCloseMs (gossip/idle-connections.ts). */
  idleConnectionsClosed: number
  /** Connections open now, to any peer. */
  connections: number
  /**
   * Connections opened since start (each one a TCP and noise handshake, the
   * largest CPU cost of membership traffic: docs/scale.md), by who dialled.
   */
  connectionsOpened: { inbound: number, outbound: number }
}

export interface SwimTransport {
  /** Registers the protocol handler and the disconnect listener. Idempotent. */
  start: () => Promise<void>
  /**
   * Stops accepting streams, gives queued frames up to stopFlushTimeoutMs to
   * go out, then aborts every stream and pending dial. No handler is called
   * after it returns; messages still queued are dropped without a report.
   */
  stop: () => Promise<void>
  /** Queues `msg` for `to`. Never throws, never blocks; failures go to onDeliveryFailed. */
  send: (to: Destination, msg: Message) => void
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

/** One outbound message waiting for (or being written to) a stream. */
interface Outgoing {
  to: Destination
  msg: Message
  /** Length prefix and body in one buffer. */
  frame: Uint8Array
  /** Already re-queued once after a stream broke under it. */
  retried: boolean
}

/** Outbound state for one remote peer (or, until its id is learned, one address set). */
interface Channel {
  key: string
  /** Peer id, known up front or learned from the first connection. */
  peerId?: string
  /** Addresses to dial (without /p2p/), the latest a destination gave. */
  addrs: string[]
  /** Key in `aliases` when this channel was created for an address-only destination. */
  addrKey?: string
  /** The addresses of the dial in progress (for marking their paths down if it fails). */
  dialling?: string[]
  stream?: Stream
  /** Remote address of the connection `stream` runs on. */
  via?: string
  queue: Outgoing[]
  queuedBytes: number
  /** The pump loop writing this channel's queue, while it runs. */
  pump?: Promise<void>
}

/** Raised internally when a destination resolves to this node. */
class SelfDialError extends Error {
  override name = 'SelfDialError'
}

export function createSwimTransport (libp2p: Libp2p, handlers: SwimTransportHandlers, config: Partial<TransportConfig> = {}): SwimTransport {
  return new SwimTransportImpl(libp2p, handlers, fromPartial(config))
}

class SwimTransportImpl implements SwimTransport {
  private readonly libp2p: Libp2p
  private readonly handlers: SwimTransportHandlers
  private readonly config: TransportConfig
  private readonly log: Logger
  private readonly selfId: string
  /** Channels by peer id, or by `addrs:<addrKey>` while the id is unknown. */
  private readonly channels = new Map<string, Channel>()
  /** Address sets (of address-only destinations) to the peer id they led to. */
  private readonly aliases = new Map<string, string>()
  private readonly inbound = new Set<Stream>()
  private readonly idle: IdleConnections
  private readonly counters: Omit<SwimTransportStats, 'idleConnectionsClosed' | 'connections' | 'connectionsOpened'> = {
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    dropped: { malformed: 0, oversized: 0, unsupportedVersion: 0, sendFailed: 0, backpressure: 0, rateLimited: 0 },
    pathSwitches: 0,
    peersDisconnected: 0,
    pathChecks: 0,
    pathCheckFailures: 0
  }

  private readonly opened = { inbound: 0, outbound: 0 }

  /** Per-peer path reachability (paths.ts). */
  private readonly pathTable = new PathTable()
  /**
   * SWIM pings written to a stream and not yet acked, by sequence number: the
   * ack's arrival gives the round trip of the path it came back over. Bounded
   * (MAX_PINGS_IN_FLIGHT, oldest dropped); the core's sequence numbers are unique.
   */
  private readonly pingsInFlight = new Map<number, { peer: string, sentAt: number }>()

  /** Per peer: hosts (IP or DNS name) of connections abandoned by switchPath, dialled last. */
  private readonly avoidHosts = new Map<string, Set<string>>()
  private readonly lastPathSwitch = new Map<string, number>()
  private readonly limiter: PeerRateLimiter
  /** Per peer: chunks (yamux data frames) read, however small; see readChunks. */
  private readonly chunkLimiter: PeerRateLimiter
  /** Per peer: frames dropped by the rate limiter in the current one-second window. */
  private readonly overLimit = new Map<string, { since: number, frames: number }>()

  private state: 'new' | 'started' | 'stopping' | 'stopped' = 'new'
  private shutdown = new AbortController()

  constructor (libp2p: Libp2p, handlers: SwimTransportHandlers, config: TransportConfig) {
    this.libp2p = libp2p
    this.handlers = handlers
    this.config = config
    this.log = libp2p.logger.forComponent('cluster:swim')
    this.selfId = libp2p.peerId.toString()
    this.limiter = new PeerRateLimiter({
      framesPerSecond: config.inboundFramesPerSecondPerPeer,
      frameBurst: config.inboundFrameBurstPerPeer,
      bytesPerSecond: config.inboundBytesPerSecondPerPeer,
      byteBurst: config.inboundByteBurstPerPeer
    })
    this.idle = new IdleConnections(libp2p, { idleCloseMs: config.idleConnectionCloseMs, busyProtocols: [WORK_PROTOCOL] })
    this.chunkLimiter = new PeerRateLimiter({
      framesPerSecond: config.inboundFramesPerSecondPerPeer * CHUNKS_PER_FRAME,
      frameBurst: config.inboundFrameBurstPerPeer * CHUNKS_PER_FRAME,
      bytesPerSecond: config.inboundBytesPerSecondPerPeer,
      byteBurst: config.inboundByteBurstPerPeer
    })
  }

  async start (): Promise<void> {
    if (this.state === 'started') return
    this.shutdown = new AbortController()
    // every dial and drain wait listens on it
    setMaxListeners(Infinity, this.shutdown.signal)
    await this.libp2p.handle(SWIM_PROTOCOL, (stream, connection) => { this.readInbound(stream, connection) }, {
      maxInboundStreams: this.config.maxInboundStreamsPerPeer,
      maxOutboundStreams: this.config.maxOutboundStreamsPerPeer,
      force: true
    })
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.libp2p.addEventListener('connection:open', this.onConnectionOpen)
    this.idle.start()
    this.state = 'started'
  }

  async stop (): Promise<void> {
    if (this.state !== 'started') return
    this.state = 'stopping'
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    this.libp2p.removeEventListener('connection:open', this.onConnectionOpen)
    this.idle.stop()
    try {
      await this.libp2p.unhandle(SWIM_PROTOCOL)
    } catch (err) {
      this.log.error('unhandle failed - %e', err)
    }
    const deadline = Date.now() + this.config.stopFlushTimeoutMs
    // 1. let the pumps write what is queued (a `leave` sent just before stop)
    const pumps = [...this.channels.values()].map(ch => ch.pump).filter(p => p != null)
    await withDeadline(Promise.allSettled(pumps), deadline)
    // 2. abort dials and drain waits still running
    this.shutdown.abort(new Error('SWIM transport stopped'))
    // 3. close outbound streams cleanly so written frames are flushed, then abort the rest
    const outbound = [...this.channels.values()].map(ch => ch.stream).filter(s => s != null)
    await withDeadline(Promise.allSettled(outbound.map(async s => {
      await s.close({ signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) })
    })), deadline)
    for (const s of [...outbound, ...this.inbound]) {
      s.abort(new Error('SWIM transport stopped'))
    }
    this.inbound.clear()
    this.channels.clear()
    this.aliases.clear()
    this.state = 'stopped'
  }

  stats (): SwimTransportStats {
    return { ...this.counters, dropped: { ...this.counters.dropped }, idleConnectionsClosed: this.idle.closed, connections: this.libp2p.getConnections().length, connectionsOpened: { ...this.opened } }
  }

  paths (id: string, addrs: readonly string[]): PathView[] {
    return this.pathTable.view(id, addrs)
  }

  forgetPaths (id: string): void {
    this.pathTable.forget(id)
  }

  checkPaths (members: ReadonlyArray<{ id: string, addrs: readonly string[] }>, staleAfterMs: number, timeoutMs: number): void {
    // Nothing to check (single-network members): skip getMultiaddrs(), which is not cheap.
    if (this.state !== 'started' || members.length === 0) return
    const own = new Set(this.libp2p.getMultiaddrs().map(a => withoutPeerId(a).toString()))
    const candidates = members
      .filter(m => m.id !== this.selfId)
      .map(m => ({ id: m.id, addrs: m.addrs.filter(a => !own.has(a)) }))
    const startedAt = performance.now()
    for (const { id, addr } of this.pathTable.due(candidates, startedAt, staleAfterMs, this.config.maxPathChecksPerRound)) {
      this.pathTable.checking(id, addr, startedAt)
      this.counters.pathChecks++
      void probeTcp(addr, timeoutMs).then((result: 'open' | PathError) => {
        if (this.state !== 'started') return
        if (result !== 'open') this.counters.pathCheckFailures++
        this.pathEvidence(id, addr, now => this.pathTable.checked(id, addr, startedAt, result, now), () => `${addr} checked: ${result}`)
      })
    }
  }

  /** Applies one piece of path evidence and tells the handler when a path changed state. */
  private pathEvidence (id: string, addr: string, apply: (now: number) => boolean, what: () => string): void {
    if (!apply(performance.now()) || this.state !== 'started') return
    this.log('path to %s changed: %s', id, what())
    // Our stream to the peer runs over a path now known down: leave it. The next
    // send opens a stream on a connection whose path is not down (connect()),
    // e.g. the one the peer dialled us over on its other network. Without this,
    // our messages (acks included) would go into the dead connection until a
    // probe of our own over it fails.
    const channel = this.channels.get(id)
    if (channel?.stream != null && channel.via != null && pathKey(channel.via) === pathKey(addr) &&
        this.pathTable.stateOf(id, addr) === 'down') {
      this.log('leaving the stream to %s over %s: its path is down', id, channel.via)
      channel.stream.abort(new Error('path down'))
      channel.stream = undefined
      channel.via = undefined
    }
    try {
      this.handlers.onPathChange?.(id)
    } catch (err) {
      this.log.error('onPathChange threw - %e', err)
    }
  }

  switchPath (id: string): void {
    if (this.state !== 'started' || id === this.selfId) return
    const now = performance.now()
    if (now - (this.lastPathSwitch.get(id) ?? -Infinity) < this.config.pathSwitchMinIntervalMs) return
    let connections: Connection[]
    try {
      connections = this.libp2p.getConnections(peerIdFromString(id))
    } catch {
      return // not a peer id
    }
    if (connections.length === 0) return
    // The unanswered probe went out over our stream's connection: that path is
    // down until traffic or a check says otherwise (all of them if unknown).
    const channel = this.channels.get(id)
    const silent = channel?.via != null ? [channel.via] : connections.map(c => c.remoteAddr.toString())
    for (const addr of silent) this.pathEvidence(id, addr, now => this.pathTable.down(id, addr, 'timeout', now), () => `${addr} down (switchPath)`)
    // When every address we know of the member is on the silent hosts (a
    // single-network member, or every agent on loopback), there is no other
    // path: aborting the connections would only cut what they carry besides
    // probes (work streams, gossipsub) and redial the same network.
    // With no address known here (a channel made for a reply to a sender id),
    // switch as before: the redial finds out.
    const silentHosts = new Set(connections.map(c => hostOf(c.remoteAddr)).filter(h => h != null))
    const known = (channel?.addrs ?? []).map(a => hostOfAddr(a)).filter(h => h != null)
    if (known.length > 0 && known.every(host => silentHosts.has(host))) return
    this.lastPathSwitch.set(id, now)
    this.avoidHosts.set(id, silentHosts)
    this.counters.pathSwitches++
    this.log('switching path to %s away from %s', id, connections.map(c => c.remoteAddr.toString()).join(', '))
    if (channel?.stream != null) {
      channel.stream.abort(new Error('path switched'))
      channel.stream = undefined
    }
    for (const connection of connections) connection.abort(new Error('path switched: probes over it went unanswered'))
  }

  send (to: Destination, msg: Message): void {
    try {
      this.enqueue(to, msg)
    } catch (err) {
      // last line of defence for the never-throws promise (e.g. `to` is not an object)
      this.fail(to, msg, 'error', 'sendFailed', `send failed: ${(err as Error)?.message}`)
    }
  }

  private enqueue (to: Destination, msg: Message): void {
    if (this.state === 'stopping' || this.state === 'stopped') {
      // documented: nothing is reported once stop() has begun
      this.counters.dropped.sendFailed++
      return
    }
    if (this.state !== 'started') {
      this.fail(to, msg, 'error', 'sendFailed', 'transport not started')
      return
    }
    let body: Uint8Array
    try {
      body = encodeMessage(msg)
    } catch (err) {
      this.fail(to, msg, 'error', 'sendFailed', `unencodable message: ${(err as Error).message}`)
      return
    }
    if (body.byteLength > this.config.maxMessageBytes) {
      this.fail(to, msg, 'error', 'oversized', `message of ${body.byteLength} bytes exceeds maxMessageBytes`)
      return
    }
    const frame = lp.encode.single(body).subarray()
    let channel: Channel
    try {
      channel = this.channelFor(to)
    } catch (err) {
      this.fail(to, msg, 'error', 'sendFailed', (err as Error).message)
      return
    }
    const pending = channel.queuedBytes + (channel.stream?.writeBufferLength ?? 0)
    if (channel.queue.length >= this.config.maxQueuedMessagesPerPeer ||
        (pending > 0 && pending + frame.byteLength > this.config.maxQueuedBytesPerPeer)) {
      this.fail(to, msg, 'timeout', 'backpressure', `queue for ${channel.key} is full`)
      return
    }
    channel.queue.push({ to, msg, frame, retried: false })
    channel.queuedBytes += frame.byteLength
    this.kick(channel)
  }

  // -------------------------------------------------------------------------
  // Outbound

  /** The channel a destination maps to, created if needed. Throws for self and for empty destinations. */
  private channelFor (to: Destination): Channel {
    const addrs = Array.isArray(to.addrs) ? to.addrs.filter(a => typeof a === 'string') : []
    if (to.id != null) {
      if (to.id === this.selfId) throw new SelfDialError('destination is this node')
      let channel = this.channels.get(to.id)
      if (channel == null) {
        channel = { key: to.id, peerId: to.id, addrs, queue: [], queuedBytes: 0 }
        this.channels.set(to.id, channel)
      } else if (addrs.length > 0) {
        channel.addrs = addrs
      }
      return channel
    }
    if (addrs.length === 0) throw new Error('destination has neither id nor addresses')
    const addrKey = [...addrs].sort().join(' ')
    const known = this.aliases.get(addrKey)
    if (known != null) {
      const channel = this.channels.get(known)
      if (channel != null) return channel
      this.aliases.delete(addrKey)
    }
    const key = `addrs:${addrKey}`
    let channel = this.channels.get(key)
    if (channel == null) {
      channel = { key, addrs, addrKey, queue: [], queuedBytes: 0 }
      this.channels.set(key, channel)
    }
    return channel
  }

  /** Starts the channel's pump on the next microtask unless it runs already. */
  private kick (channel: Channel): void {
    if (channel.pump != null) return
    channel.pump = new Promise<void>(resolve => { queueMicrotask(resolve) })
      .then(async () => { await this.pump(channel) })
      .catch(err => { this.log.error('pump for %s failed - %e', channel.key, err) })
      .finally(() => {
        channel.pump = undefined
        // sends queued while the pump was finishing
        if (channel.queue.length > 0 && this.state === 'started' && this.channels.get(channel.key) === channel) {
          this.kick(channel)
        } else {
          this.forgetIfIdle(channel)
        }
      })
  }

  /** Writes the channel's queue in order, dialling and (re)opening the stream as needed. */
  private async pump (channel: Channel): Promise<void> {
    while (channel.queue.length > 0 && this.state !== 'stopped' && !this.shutdown.signal.aborted) {
      let stream = channel.stream
      if (stream == null || stream.writeStatus !== 'writable') {
        channel.stream = undefined
        try {
          stream = await beforeDeadline(this.openStream(channel), this.config.dialTimeoutMs)
        } catch (err) {
          if (this.shutdown.signal.aborted) return
          const reason = await this.classify(err, channel)
          this.log('dial %s failed (%s) - %e', channel.key, reason, err)
          // Which addresses failed is known when all refused (each one did) or when
          // only one was dialled; a timeout of several may not have tried them all.
          const peer = channel.peerId
          const failed = channel.dialling ?? []
          if (peer != null && !(err instanceof SelfDialError) && (reason === 'refused' || failed.length === 1)) {
            for (const addr of failed) this.pathEvidence(peer, addr, now => this.pathTable.down(peer, addr, reason, now), () => `${addr} down (dial: ${reason})`)
          }
          channel.dialling = undefined
          this.failQueue(channel, reason)
          if (channel.addrKey != null) this.aliases.delete(channel.addrKey)
          return
        }
        if (this.channels.get(channel.key) !== channel) {
          // merged into the channel of the learned peer id; that channel's pump carries on
          return
        }
      }
      const out = channel.queue.shift()
      if (out == null) return
      channel.queuedBytes -= out.frame.byteLength
      let ready: boolean
      try {
        ready = stream.send(out.frame)
      } catch (err) {
        // the stream closed under us: the frame was not accepted; one retry on a fresh stream
        this.log('send to %s failed - %e', channel.key, err)
        if (channel.stream === stream) channel.stream = undefined
        if (!out.retried) {
          out.retried = true
          channel.queue.unshift(out)
          channel.queuedBytes += out.frame.byteLength
        } else {
          this.report(out.to, out.msg, 'error', 'sendFailed')
        }
        continue
      }
      this.counters.messagesOut++
      this.counters.bytesOut += out.frame.byteLength
      if (channel.peerId != null) this.idle.touch(channel.peerId)
      if (out.msg.type === 'ping' && channel.peerId != null && out.msg.target === channel.peerId) this.notePing(out.msg.seq, channel.peerId)
      if (!ready) {
        try {
          await stream.onDrain({ signal: this.shutdown.signal })
        } catch {
          // stream closed or transport stopping; the loop re-opens or exits
          if (channel.stream === stream) channel.stream = undefined
        }
      }
    }
  }

  /**
   * Dials the channel's peer (reusing a connection when there is one) and
   * opens a SWIM stream, within connectTimeoutMs: the pump stops waiting at
   * dialTimeoutMs, but a dial that completes later is kept (libp2p joins the
   * next dial to the same peer to it, and the connection serves later sends).
   */
  private async openStream (channel: Channel): Promise<Stream> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.config.connectTimeoutMs)])
    const connection = await this.connect(channel, signal)
    const dialled = channel.dialling != null
    channel.dialling = undefined
    const remote = connection.remotePeer.toString()
    // a fresh connection (noise handshake done) proves its path
    const dialledAddr = connection.remoteAddr.toString()
    if (dialled && remote !== this.selfId) this.pathEvidence(remote, dialledAddr, now => this.pathTable.up(remote, dialledAddr, now), () => `${dialledAddr} up (dialled)`)
    if (remote === this.selfId) throw new SelfDialError('dialled this node')
    if (channel.peerId == null) this.learn(channel, remote)
    else if (channel.peerId !== remote) throw new Error(`expected peer ${channel.peerId}, connected to ${remote}`)
    const stream = await connection.newStream(SWIM_PROTOCOL, {
      signal,
      maxOutboundStreams: this.config.maxOutboundStreamsPerPeer
    })
    // outbound streams carry no inbound data; if the remote goes away, forget the stream
    stream.addEventListener('close', () => {
      const owner = this.channels.get(remote)
      if (owner?.stream === stream) owner.stream = undefined
    })
    const owner = this.channels.get(remote) ?? channel
    if (owner.stream != null && owner.stream !== stream && owner.stream.writeStatus === 'writable') {
      // another pump opened a stream to this peer meanwhile: keep one
      stream.abort(new Error('duplicate SWIM stream'))
      return owner.stream
    }
    owner.stream = stream
    owner.via = connection.remoteAddr.toString()
    return stream
  }

  /** A ping to `peer` was handed to its stream now. */
  private notePing (seq: number, peer: string): void {
    if (this.pingsInFlight.size >= MAX_PINGS_IN_FLIGHT) {
      const oldest = this.pingsInFlight.keys().next().value
      if (oldest != null) this.pingsInFlight.delete(oldest)
    }
    this.pingsInFlight.set(seq, { peer, sentAt: performance.now() })
  }

  private async connect (channel: Channel, signal: AbortSignal): Promise<Connection> {
    if (channel.peerId != null) {
      const peerId = peerIdFromString(channel.peerId)
      // an open connection whose path is not known down, else any open one
      const open = this.libp2p.getConnections(peerId)
      const peer = channel.peerId
      const existing = newestOpen(open.filter(c => this.pathTable.stateOf(peer, c.remoteAddr.toString()) !== 'down')) ?? newestOpen(open)
      if (existing != null) return existing
      if (channel.addrs.length === 0) return await this.libp2p.dial(peerId, { signal })
      channel.dialling = [...channel.addrs]
      const addrs = channel.addrs.map(a => withPeerId(multiaddr(a), channel.peerId as string))
      // After a path switch, try the addresses on other hosts (networks) first:
      // libp2p would otherwise start with the one that just went silent.
      const avoid = this.avoidHosts.get(channel.peerId)
      const preferred = avoid == null ? addrs : addrs.filter(a => !avoid.has(hostOf(a) ?? ''))
      if (preferred.length > 0 && preferred.length < addrs.length) {
        try {
          return await this.libp2p.dial(preferred, { signal })
        } catch (err) {
          if (signal.aborted) throw err
        }
      }
      return await this.libp2p.dial(addrs, { signal })
    }
    // an address-only destination may still name its peer in /p2p/ (a join seed given with its id)
    const addrs = channel.addrs.map(a => multiaddr(a))
    const named = new Set(addrs.map(a => peerIdIn(a)).filter(id => id != null))
    if (named.size > 1) throw new Error('the addresses name different peers')
    const claimed = [...named][0]
    if (claimed === this.selfId) throw new SelfDialError('the addresses name this node')
    const bare = addrs.map(a => withoutPeerId(a))
    // a connection we already have to the named peer, or one we made to one of these addresses
    const dialled = new Set(bare.map(a => a.toString()))
    const existing = (claimed != null ? newestOpen(this.libp2p.getConnections(peerIdFromString(claimed))) : undefined) ??
      this.libp2p.getConnections().find(c =>
        c.status === 'open' && c.direction === 'outbound' && dialled.has(withoutPeerId(c.remoteAddr).toString()))
    if (existing != null) return existing
    const own = new Set(this.libp2p.getMultiaddrs().map(a => withoutPeerId(a).toString()))
    const targets = bare.filter(a => !own.has(a.toString())).map(a => claimed != null ? withPeerId(a, claimed) : a)
    if (targets.length === 0) throw new SelfDialError('every address is one of this node\'s')
    return await this.libp2p.dial(targets, { signal })
  }

  /** An address-only channel found out who it talks to: re-key it, or merge it into that peer's channel. */
  private learn (channel: Channel, peerId: string): void {
    channel.peerId = peerId
    if (channel.addrKey != null) this.aliases.set(channel.addrKey, peerId)
    const existing = this.channels.get(peerId)
    this.channels.delete(channel.key)
    if (existing == null) {
      channel.key = peerId
      this.channels.set(peerId, channel)
      return
    }
    // keep per-peer order across both: the address channel's messages go after what is queued there
    for (const out of channel.queue) {
      existing.queue.push(out)
      existing.queuedBytes += out.frame.byteLength
    }
    channel.queue = []
    channel.queuedBytes = 0
    this.kick(existing)
  }

  private failQueue (channel: Channel, reason: DeliveryFailure): void {
    const failed = channel.queue
    channel.queue = []
    channel.queuedBytes = 0
    for (const out of failed) this.report(out.to, out.msg, reason, 'sendFailed')
  }

  private forgetIfIdle (channel: Channel): void {
    if (channel.queue.length > 0 || channel.pump != null) return
    if (channel.stream != null && channel.stream.writeStatus === 'writable') return
    if (this.channels.get(channel.key) === channel) this.channels.delete(channel.key)
  }

  /**
   * refused: every address refused the connection (TCP RST: the host is up,
   * nothing listens); timeout: our deadline passed; error: anything else
   * (wrong peer, handshake failure, protocol not supported, bad address...).
   */
  private async classify (err: unknown, channel: Channel): Promise<DeliveryFailure> {
    if (err instanceof SelfDialError) return 'error'
    const leaves = leafErrors(err)
    if (leaves.some(e => isTimeout(e))) return 'timeout'
    if (leaves.length === 0) return 'error'
    if (leaves.every(e => isRefused(e))) return 'refused'
    // WebSocket dials fail with an opaque ErrorEvent (the WHATWG API hides the
    // cause). Find out whether the port refuses plain TCP connections.
    if (!leaves.every(e => isRefused(e) || isOpaque(e))) return 'error'
    const wsAddrs = channel.addrs.filter(a => /\/(ws|wss|tls\/ws)(\/|$)/.test(a))
    if (wsAddrs.length === 0) return 'error'
    const probeMs = Math.min(500, this.config.dialTimeoutMs)
    const probes = await Promise.all(wsAddrs.map(async a => await probeTcp(a, probeMs)))
    if (probes.every(p => p === 'refused')) return 'refused'
    if (probes.some(p => p === 'timeout')) return 'timeout'
    return 'error'
  }

  /** Reports a failure decided inside send(): counted now, reported on a microtask. */
  private fail (to: Destination, msg: Message, reason: DeliveryFailure, counter: keyof SwimTransportStats['dropped'], why: string): void {
    this.log('send to %s dropped (%s): %s', to?.id ?? to?.addrs, reason, why)
    this.counters.dropped[counter]++
    queueMicrotask(() => { this.callFailed(to, msg, reason) })
  }

  /** Reports a failure decided in a pump (already asynchronous to send()). */
  private report (to: Destination, msg: Message, reason: DeliveryFailure, counter: keyof SwimTransportStats['dropped']): void {
    this.counters.dropped[counter]++
    this.callFailed(to, msg, reason)
  }

  private callFailed (to: Destination, msg: Message, reason: DeliveryFailure): void {
    if (this.state !== 'started') return
    try {
      this.handlers.onDeliveryFailed(to, msg, reason)
    } catch (err) {
      this.log.error('onDeliveryFailed threw - %e', err)
    }
  }

  // -------------------------------------------------------------------------
  // Inbound

  private readInbound (stream: Stream, connection: Connection): void {
    if (this.state !== 'started') {
      stream.abort(new Error('SWIM transport not running'))
      return
    }
    this.inbound.add(stream)
    const from = connection.remotePeer.toString()
    void this.readFrames(stream, from, connection.remoteAddr.toString()).finally(() => { this.inbound.delete(stream) })
  }

  private async readFrames (stream: Stream, from: string, via: string): Promise<void> {
    try {
      for await (const frame of lp.decode(this.readChunks(stream, from), { maxDataLength: this.config.maxMessageBytes })) {
        this.counters.bytesIn += frame.byteLength
        if (!this.limiter.allow(from, frame.byteLength)) {
          // Dropped like a lost datagram: the stream stays, SWIM tolerates loss...
          this.counters.dropped.rateLimited++
          const now = performance.now()
          let over = this.overLimit.get(from)
          if (over == null || now - over.since > 1000) {
            over = { since: now, frames: 0 }
            this.overLimit.set(from, over)
          }
          over.frames++
          if (over.frames >= this.config.inboundFrameBurstPerPeer) {
            // ...unless the peer keeps going: a whole burst's worth over the limit
            // within a second is a flood, not a busy member. Cut it off; a member
            // that reconnects starts again with a full bucket.
            this.overLimit.delete(from)
            this.log.error('peer %s sent %d frames over the SWIM rate limit within a second: disconnecting it', from, over.frames)
            this.disconnectFlooder(stream, from)
            return
          }
          continue
        }
        let msg: Message
        try {
          msg = decodeMessage(frame.subarray())
        } catch (err) {
          this.counters.dropped[(err as Error).name === 'UnsupportedVersionError' ? 'unsupportedVersion' : 'malformed']++
          this.log('dropping stream from %s: %s', from, (err as Error).message)
          stream.abort(err as Error)
          return
        }
        this.counters.messagesIn++
        if (this.state !== 'started') return
        this.idle.touch(from)
        // A frame from the peer proves the path it came over; an ack of our ping also times it.
        const ping = msg.type === 'ack' ? this.pingsInFlight.get(msg.seq) : undefined
        const timed = ping != null && ping.peer === from
        if (timed && msg.type === 'ack') this.pingsInFlight.delete(msg.seq)
        this.pathEvidence(from, via, now => this.pathTable.up(from, via, now, timed ? now - ping.sentAt : undefined), () => `${via} up (inbound)`)
        try {
          this.handlers.onMessage(from, msg)
        } catch (err) {
          this.log.error('onMessage threw - %e', err)
        }
      }
      // the remote closed its end: close ours
      await stream.close({ signal: AbortSignal.timeout(1000) }).catch(err => { stream.abort(err as Error) })
    } catch (err) {
      const drop = framingDrop(err)
      if (drop != null) this.counters.dropped[drop]++
      this.log('inbound stream from %s ended - %e', from, err)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /**
   * The stream's chunks, one per yamux data frame. Each costs the layers
   * below (noise, yamux, events) the same whatever its size, so a peer writing
   * a frame a byte at a time made this node do thousands of times the work of
   * one write, before any SWIM frame was complete for the frame limit to see.
   * A member's frames come in a few chunks each: a peer sending chunks faster
   * than CHUNKS_PER_FRAME times the frame limit, past its burst, is cut off.
   */
  private async * readChunks (stream: Stream, from: string): AsyncGenerator<StreamChunk> {
    for await (const chunk of stream) {
      if (!this.chunkLimiter.allow(from, 0)) {
        this.counters.dropped.rateLimited++
        this.log.error('peer %s sent data in more pieces than the SWIM rate limit allows: disconnecting it', from)
        this.disconnectFlooder(stream, from)
        return
      }
      yield chunk
    }
  }

  private disconnectFlooder (stream: Stream, from: string): void {
    this.counters.peersDisconnected++
    stream.abort(new Error('rate limit exceeded'))
    void this.libp2p.hangUp(peerIdFromString(from)).catch(() => {})
  }

  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    this.opened[evt.detail.direction]++
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.overLimit.delete(id)
    this.idle.forget(id)
    for (const [key, peer] of this.aliases) {
      if (peer === id) this.aliases.delete(key)
    }
    const channel = this.channels.get(id)
    if (channel != null) {
      channel.stream = undefined
      this.forgetIfIdle(channel)
    }
    if (this.state !== 'started') return
    try {
      this.handlers.onPeerDisconnected(id)
    } catch (err) {
      this.log.error('onPeerDisconnected threw - %e', err)
    }
  }
}

// ---------------------------------------------------------------------------
// Helpers

function withPeerId (addr: Multiaddr, peerId: string): Multiaddr {
  const last = addr.getComponents().at(-1)
  return last?.name === 'p2p' ? addr : addr.encapsulate(`/p2p/${peerId}`)
}

/**
 * The most recently opened open connection: after a peer restarts, its new
 * connection is preferred over an old one that has not noticed yet.
 */
function newestOpen (connections: Connection[]): Connection | undefined {
  let best: Connection | undefined
  for (const c of connections) {
    if (c.status === 'open' && (best == null || c.timeline.open > best.timeline.open)) best = c
  }
  return best
}

function peerIdIn (addr: Multiaddr): string | undefined {
  const last = addr.getComponents().at(-1)
  return last?.name === 'p2p' ? last.value : undefined
}

function withoutPeerId (addr: Multiaddr): Multiaddr {
  return addr.getComponents().at(-1)?.name === 'p2p' ? addr.decapsulateCode(CODE_P2P) : addr
}

/** The individual errors behind an AggregateError (recursively), or the error itself. */
function leafErrors (err: unknown): unknown[] {
  if (err instanceof AggregateError) return err.errors.flatMap(e => leafErrors(e))
  return [err]
}

/** Our deadline, libp2p's per-address deadline (wrapped, e.g. in an EncryptionFailedError) or an abort. */
function isTimeout (err: unknown, depth = 0): boolean {
  const e = err as { name?: unknown, message?: unknown, cause?: unknown }
  if (e == null || depth > 4) return false
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return true
  if (typeof e.message === 'string' && /aborted due to timeout|timed out/i.test(e.message)) return true
  return e.cause != null && e.cause !== err && isTimeout(e.cause, depth + 1)
}

function isRefused (err: unknown, depth = 0): boolean {
  const e = err as { code?: unknown, message?: unknown, cause?: unknown }
  if (e == null || depth > 4) return false
  if (e.code === 'ECONNREFUSED') return true
  if (typeof e.message === 'string' && e.message.includes('ECONNREFUSED')) return true
  return e.cause != null && e.cause !== err && isRefused(e.cause, depth + 1)
}

/** An error that says nothing: a WebSocket ErrorEvent or a non-Error value. */
function isOpaque (err: unknown): boolean {
  return !(err instanceof Error) || (err as Error).message === ''
}

/** Does host:port of a (ws) multiaddr refuse, accept or ignore a TCP connection? */
async function probeTcp (addr: string, timeoutMs: number): Promise<'refused' | 'open' | 'timeout' | 'error'> {
  let host: string | undefined
  let port: number | undefined
  try {
    for (const c of multiaddr(addr).getComponents()) {
      if (['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(c.name)) host = c.value
      else if (c.name === 'tcp' && c.value != null) port = Number(c.value)
    }
  } catch {
    return 'error'
  }
  if (host == null || port == null) return 'error'
  return await new Promise(resolve => {
    const socket = netConnect({ host, port, timeout: timeoutMs })
    let settled = false
    const done = (result: 'refused' | 'open' | 'timeout' | 'error'): void => {
      if (settled) return
      settled = true
      socket.destroy()
      resolve(result)
    }
    socket.once('connect', () => { done('open') })
    // Timers run before I/O callbacks: after an event-loop stall a connect that
    // completed in time would lose to the timeout. Decide after the I/O phase.
    socket.once('timeout', () => { setImmediate(() => { done('timeout') }) })
    socket.once('error', (err: NodeJS.ErrnoException) => { done(err.code === 'ECONNREFUSED' ? 'refused' : 'error') })
  })
}

/** Waits for `promise` or until the wall-clock `deadline` (ms), whichever is first. */
async function withDeadline (promise: Promise<unknown>, deadline: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([
    promise,
    new Promise<void>(resolve => { timer = setTimeout(resolve, Math.max(0, deadline - Date.now())) })
  ])
  clearTimeout(timer)
}

/** The host part (IP address or DNS name) of a multiaddr, if it has one. */
function hostOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().find(c => ['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(c.name))?.value
}

/** The send's deadline passed while its dial goes on (classified `timeout`). */
class DialDeadlineError extends Error {
  override name = 'TimeoutError'
}

/** `p`, or a DialDeadlineError after `ms`; `p` goes on either way, and its late failure is not unhandled. */
async function beforeDeadline<T> (p: Promise<T>, ms: number): Promise<T> {
  p.catch(() => {})
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new DialDeadlineError(`no stream within ${ms} ms`)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}
