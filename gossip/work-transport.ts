/**
 * The work-claims transport: one gossipsub topic that every agent hears
 * (offers, claims, capacity, takeovers, job ends) and direct streams to one
 * member (grants, results, replication, lookups).
 *
 * The sender of a message is never in its body: topic messages are signed by
 * their origin (gossipsub StrictSign) and `from` is that signer; direct
 * messages come from the noise-authenticated peer of the connection.
 *
 * Delivery is best effort, like SWIM's: a direct message whose dial or stream
 * fails is dropped and counted; the work core's timers (claim timeout, lease
 * expiry, re-offers, resync) recover. Per peer, messages are written in order
 * over ONE long-lived stream, and the queue is bounded.
 *
 * Bad input is counted, never thrown: undecodable or oversized frames abort
 * the stream they came on; bad topic messages are rejected (gossipsub then
 * scores their sender down).
 */
import { setMaxListeners } from 'node:events'
import { peerIdFromString } from '@libp2p/peer-id'
import * as lp from 'it-length-prefixed'
import { framingDrop } from './framing.ts'
import { newestOpen } from './newest-connection.ts'
import { decodeWire, encodeWire, type WireMessage } from './work-codec.ts'
import { PeerRateLimiter, type RateLimit } from './rate-limit.ts'
import { HeartbeatPace } from './heartbeat-pace.ts'
import type { WorkSender } from '../workloads/ports.ts'
import type { GossipSub, Message as PubsubMessage } from '@libp2p/gossipsub'
import type { Connection, Libp2p, Logger, Stream } from '@libp2p/interface'

export const WORK_TOPIC = '/cluster/work/1'
import { WORK_PROTOCOL } from './protocols.ts'
export { WORK_PROTOCOL }

export interface WorkTransportConfig {
  /** Largest encoded message, topic or direct (a replication snapshot of a big job is the largest). */
  maxMessageBytes: number
  /** Messages waiting for one peer before new ones are dropped (`backpressure`). */
  maxQueuedMessagesPerPeer: number
  /** A dial plus stream open to a member may take this long before its queue is dropped. */
  dialTimeoutMs: number
  /**
   * Inbound work messages (topic and direct together) per peer. A coordinator
   * hears about two per task from each worker; at the benchmark's ~2,000
   * tasks/s over 4 workers that is ~1,000 a second from one peer, so the
   * default leaves room for that and cuts a flood. Excess messages are
   * dropped before decoding and counted (`dropped.rateLimited`).
   */
  inbound: RateLimit
}

export const DEFAULT_WORK_TRANSPORT_CONFIG: Readonly<WorkTransportConfig> = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  maxQueuedMessagesPerPeer: 20_000,
  dialTimeoutMs: 3000,
  inbound: { framesPerSecond: 5000, frameBurst: 10_000, bytesPerSecond: 16 * 1024 * 1024, byteBurst: 32 * 1024 * 1024 }
})

export interface WorkTransportStats {
  topicIn: number
  topicOut: number
  directIn: number
  directOut: number
  dropped: {
    /** Inbound messages that did not decode or validate. */
    malformed: number
    /** Inbound or outbound messages over maxMessageBytes. */
    oversized: number
    /** Topic messages without a signature (never accepted). */
    unsigned: number
    /** Outbound messages lost with a failed dial or stream. */
    sendFailed: number
    /** Outbound messages dropped because the peer's queue was full. */
    backpressure: number
    /** Inbound messages over the peer's rate limit (WorkTransportConfig.inbound). */
    rateLimited: number
  }
}

/** The work port's sender (workloads/ports.ts), for the work core's messages and the agent's job lookups alike. */
export interface WorkTransport extends WorkSender {
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Publishes on the work topic. Never throws. */
  publish: (msg: WireMessage) => void
  /** Sends to one member over a direct stream. Never throws. */
  send: (to: string, msg: WireMessage) => void
  stats: () => WorkTransportStats
}

export type WorkMessageHandler = (from: string, msg: WireMessage, channel: 'topic' | 'direct') => void

/** Largest write a burst of queued frames is coalesced into. */
const COALESCE_BYTES = 256 * 1024

/** Takes frames off the front of `queue` up to `maxBytes` in all (at least one). */
function takeBatch (queue: Uint8Array[], maxBytes: number): Uint8Array[] {
  let n = 0
  let bytes = 0
  while (n < queue.length && (n === 0 || bytes + queue[n].byteLength <= maxBytes)) bytes += queue[n++].byteLength
  return queue.splice(0, n)
}

function concat (frames: Uint8Array[]): Uint8Array {
  if (frames.length === 1) return frames[0]
  const out = new Uint8Array(frames.reduce((sum, f) => sum + f.byteLength, 0))
  let at = 0
  for (const f of frames) { out.set(f, at); at += f.byteLength }
  return out
}

interface Channel {
  peerId: string
  stream?: Stream
  queue: Uint8Array[]
  pump?: Promise<void>
}

export function createWorkTransport (libp2p: Libp2p, pubsub: GossipSub, onMessage: WorkMessageHandler, config: Partial<WorkTransportConfig> = {}): WorkTransport {
  return new WorkTransportImpl(libp2p, pubsub, onMessage, { ...DEFAULT_WORK_TRANSPORT_CONFIG, ...config })
}

class WorkTransportImpl implements WorkTransport {
  private readonly libp2p: Libp2p
  private readonly pubsub: GossipSub
  private readonly onMessage: WorkMessageHandler
  private readonly config: WorkTransportConfig
  private readonly log: Logger
  private readonly channels = new Map<string, Channel>()
  private readonly inbound = new Set<Stream>()
  private readonly counters: WorkTransportStats = {
    topicIn: 0,
    topicOut: 0,
    directIn: 0,
    directOut: 0,
    dropped: { malformed: 0, oversized: 0, unsigned: 0, sendFailed: 0, backpressure: 0, rateLimited: 0 }
  }

  private readonly limiter: PeerRateLimiter
  private readonly pace: HeartbeatPace

  private running = false
  private shutdown = new AbortController()

  constructor (libp2p: Libp2p, pubsub: GossipSub, onMessage: WorkMessageHandler, config: WorkTransportConfig) {
    this.libp2p = libp2p
    this.pubsub = pubsub
    this.onMessage = onMessage
    this.config = config
    this.log = libp2p.logger.forComponent('cluster:work')
    this.limiter = new PeerRateLimiter(config.inbound)
    this.pace = new HeartbeatPace(pubsub)
  }

  async start (): Promise<void> {
    if (this.running) return
    this.shutdown = new AbortController()
    setMaxListeners(Infinity, this.shutdown.signal)
    await this.libp2p.handle(WORK_PROTOCOL, (stream, connection) => { this.readInbound(stream, connection) }, { force: true })
    this.pubsub.addEventListener('message', this.onTopicMessage)
    this.pubsub.subscribe(WORK_TOPIC)
    this.pace.start()
    this.running = true
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.pubsub.removeEventListener('message', this.onTopicMessage)
    this.pace.stop()
    try {
      this.pubsub.unsubscribe(WORK_TOPIC)
      await this.libp2p.unhandle(WORK_PROTOCOL)
    } catch (err) {
      this.log.error('stop failed - %e', err)
    }
    this.shutdown.abort(new Error('work transport stopped'))
    for (const channel of this.channels.values()) channel.stream?.abort(new Error('work transport stopped'))
    for (const stream of this.inbound) stream.abort(new Error('work transport stopped'))
    this.channels.clear()
    this.inbound.clear()
  }

  stats (): WorkTransportStats {
    return { ...this.counters, dropped: { ...this.counters.dropped } }
  }

  publish (msg: WireMessage): void {
    if (!this.running) return
    const bytes = this.encode(msg)
    if (bytes == null) return
    this.counters.topicOut++
    this.pace.traffic()
    this.pubsub.publish(WORK_TOPIC, bytes).catch(err => {
      this.counters.dropped.sendFailed++
      this.log('publish failed - %e', err)
    })
  }

  send (to: string, msg: WireMessage): void {
    if (!this.running) return
    const bytes = this.encode(msg)
    if (bytes == null) return
    let channel = this.channels.get(to)
    if (channel == null) {
      channel = { peerId: to, queue: [] }
      this.channels.set(to, channel)
    }
    if (channel.queue.length >= this.config.maxQueuedMessagesPerPeer) {
      this.counters.dropped.backpressure++
      return
    }
    channel.queue.push(lp.encode.single(bytes).subarray())
    this.kick(channel)
  }

  private encode (msg: WireMessage): Uint8Array | undefined {
    let bytes: Uint8Array
    try {
      bytes = encodeWire(msg)
    } catch (err) {
      this.counters.dropped.sendFailed++
      this.log.error('unencodable %s message - %e', (msg as { type?: string })?.type, err)
      return undefined
    }
    if (bytes.byteLength > this.config.maxMessageBytes) {
      this.counters.dropped.oversized++
      this.log.error('%s message of %d bytes over maxMessageBytes, not sent', msg.type, bytes.byteLength)
      return undefined
    }
    return bytes
  }

  private kick (channel: Channel): void {
    if (channel.pump != null) return
    // setImmediate, not a microtask: the replies to every message read in this
    // I/O turn are queued by then and leave in one write (see pump)
    channel.pump = new Promise<void>(resolve => { setImmediate(resolve) })
      .then(async () => { await this.pump(channel) })
      .catch(err => {
        // the dial or stream failed: what is queued is lost (counted); the core's timers recover
        this.counters.dropped.sendFailed += channel.queue.length
        channel.queue = []
        if (channel.stream != null) channel.stream.abort(err instanceof Error ? err : new Error(String(err)))
        channel.stream = undefined
        this.log('direct send to %s failed - %e', channel.peerId, err)
      })
      .finally(() => {
        channel.pump = undefined
        if (!this.running) return
        if (channel.queue.length > 0) this.kick(channel)
        else if (channel.stream == null && this.channels.get(channel.peerId) === channel) this.channels.delete(channel.peerId)
      })
  }

  private async pump (channel: Channel): Promise<void> {
    while (channel.queue.length > 0 && this.running) {
      let stream = channel.stream
      if (stream == null || stream.writeStatus !== 'writable') {
        stream = await this.openStream(channel)
        channel.stream = stream
      }
      // Everything queued goes out in one write: one yamux frame, one noise
      // seal and one syscall for a burst of small messages, not one each.
      const batch = takeBatch(channel.queue, COALESCE_BYTES)
      const bytes = concat(batch)
      let ready: boolean
      try {
        ready = stream.send(bytes)
      } catch {
        // the stream closed under us: one retry of this batch on a fresh stream
        channel.stream = undefined
        channel.queue.unshift(...batch)
        stream = await this.openStream(channel)
        channel.stream = stream
        continue
      }
      this.counters.directOut += batch.length
      if (!ready) await stream.onDrain({ signal: this.shutdown.signal })
    }
  }

  private async openStream (channel: Channel): Promise<Stream> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.config.dialTimeoutMs)])
    const peer = peerIdFromString(channel.peerId)
    // not the first open one: after a heal or a restart an old connection may linger, dead
    const connection = newestOpen(this.libp2p.getConnections(peer)) ?? await this.libp2p.dial(peer, { signal })
    const stream = await connection.newStream(WORK_PROTOCOL, { signal })
    stream.addEventListener('close', () => { if (channel.stream === stream) channel.stream = undefined })
    return stream
  }

  private readInbound (stream: Stream, connection: Connection): void {
    if (!this.running) {
      stream.abort(new Error('work transport not running'))
      return
    }
    this.inbound.add(stream)
    const from = connection.remotePeer.toString()
    void this.readFrames(stream, from).finally(() => { this.inbound.delete(stream) })
  }

  private async readFrames (stream: Stream, from: string): Promise<void> {
    try {
      for await (const frame of lp.decode(stream, { maxDataLength: this.config.maxMessageBytes })) {
        if (!this.limiter.allow(from, frame.byteLength)) {
          this.counters.dropped.rateLimited++
          continue
        }
        let msg: WireMessage
        try {
          msg = decodeWire(frame.subarray())
        } catch (err) {
          this.counters.dropped.malformed++
          this.log('dropping work stream from %s: %s', from, (err as Error).message)
          stream.abort(err as Error)
          return
        }
        this.counters.directIn++
        this.deliver(from, msg, 'direct')
      }
      await stream.close({ signal: AbortSignal.timeout(1000) }).catch(err => { stream.abort(err as Error) })
    } catch (err) {
      const drop = framingDrop(err)
      if (drop != null) this.counters.dropped[drop]++
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private readonly onTopicMessage = (evt: CustomEvent<PubsubMessage>): void => {
    const m = evt.detail
    if (m.topic !== WORK_TOPIC) return
    if (m.type !== 'signed') {
      this.counters.dropped.unsigned++
      return
    }
    if (m.data.byteLength > this.config.maxMessageBytes) {
      this.counters.dropped.oversized++
      return
    }
    // the origin's budget: relays forward others' messages, the signer wrote them
    if (!this.limiter.allow(m.from.toString(), m.data.byteLength)) {
      this.counters.dropped.rateLimited++
      return
    }
    let msg: WireMessage
    try {
      msg = decodeWire(m.data)
    } catch (err) {
      this.counters.dropped.malformed++
      this.log('dropping topic message from %s: %s', m.from, (err as Error).message)
      return
    }
    this.counters.topicIn++
    this.pace.traffic()
    this.deliver(m.from.toString(), msg, 'topic')
  }

  private deliver (from: string, msg: WireMessage, channel: 'topic' | 'direct'): void {
    if (!this.running) return
    try {
      this.onMessage(from, msg, channel)
    } catch (err) {
      this.log.error('work message handler threw - %e', err)
    }
  }
}
