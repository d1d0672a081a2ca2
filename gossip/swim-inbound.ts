/**
 * The SWIM transport's inbound side: reads length-prefixed frames from the
 * streams peers open to us, drops what is over the sender's rate limit (and
 * disconnects a peer that floods), decodes and validates each frame and hands
 * it to onMessage. A stream that sends garbage is aborted; nothing thrown
 * here leaves the handler.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import * as lp from 'it-length-prefixed'
import { framingDrop } from './framing.ts'
import { decodeFrame } from './codec.ts'
import { SyncParts, SyncPartsBudget } from './sync-parts.ts'
import { PeerRateLimiter } from './rate-limit.ts'
import type { SwimPathsMonitor } from './swim-paths-monitor.ts'
import type { SwimPartOptions, SwimTransportHandlers } from './swim-types.ts'
import type { NeighbourConnections } from './neighbour-connections.ts'
import type { Message } from '../membership/types.ts'
import type { Connection, Stream } from '@libp2p/interface'

/** What a libp2p stream yields: one chunk per data frame. */
type StreamChunk = Stream extends AsyncIterable<infer T> ? T : never

/** The counter of a frame that could not be taken, by its error's name (anything else is malformed). */
const DECODE_DROPS: Partial<Record<string, 'unsupportedVersion' | 'oversized'>> = {
  UnsupportedVersionError: 'unsupportedVersion',
  SyncTooLargeError: 'oversized'
}

/** Chunks (yamux data frames) a member's frame takes at most, in the chunk limit (readChunks): a full sync spans several. */
const CHUNKS_PER_FRAME = 4

export interface InboundOptions extends SwimPartOptions {
  handlers: Pick<SwimTransportHandlers, 'onMessage'>
  paths: SwimPathsMonitor
  idle: NeighbourConnections
}

export class SwimInbound {
  /** Inbound streams being read (stop() aborts them). */
  readonly streams = new Set<Stream>()
  private readonly limiter: PeerRateLimiter
  /** Per peer: chunks (yamux data frames) read, however small; see readChunks. */
  private readonly chunkLimiter: PeerRateLimiter
  /** Per peer: frames dropped by the rate limiter in the current one-second window. */
  private readonly overLimit = new Map<string, { since: number, frames: number }>()
  /** What the unfinished syncs in parts of every stream hold together (sync-parts.ts). */
  private readonly syncBudget: SyncPartsBudget
  private readonly options: InboundOptions

  constructor (options: InboundOptions) {
    this.options = options
    const { config } = options
    this.syncBudget = new SyncPartsBudget(config.maxHeldSyncBytes)
    this.limiter = new PeerRateLimiter({
      framesPerSecond: config.inboundFramesPerSecondPerPeer,
      frameBurst: config.inboundFrameBurstPerPeer,
      bytesPerSecond: config.inboundBytesPerSecondPerPeer,
      byteBurst: config.inboundByteBurstPerPeer
    })
    this.chunkLimiter = new PeerRateLimiter({
      framesPerSecond: config.inboundFramesPerSecondPerPeer * CHUNKS_PER_FRAME,
      frameBurst: config.inboundFrameBurstPerPeer * CHUNKS_PER_FRAME,
      bytesPerSecond: config.inboundBytesPerSecondPerPeer,
      byteBurst: config.inboundByteBurstPerPeer
    })
  }

  /** The SWIM_PROTOCOL handler: reads the stream until it ends. */
  read (stream: Stream, connection: Connection): void {
    if (this.options.state() !== 'started') {
      stream.abort(new Error('SWIM transport not running'))
      return
    }
    this.streams.add(stream)
    const from = connection.remotePeer.toString()
    void this.readFrames(stream, from, connection.remoteAddr.toString()).finally(() => { this.streams.delete(stream) })
  }

  /** The last connection to peer `id` closed: a reconnecting peer starts a fresh flood window. */
  forget (id: string): void {
    this.overLimit.delete(id)
  }

  private async readFrames (stream: Stream, from: string, via: string): Promise<void> {
    const { config, counters, log, state, handlers, paths, idle } = this.options
    const syncParts = new SyncParts(this.syncBudget, config.maxSyncBytes)
    try {
      for await (const frame of lp.decode(this.readChunks(stream, from), { maxDataLength: config.maxMessageBytes })) {
        counters.bytesIn += frame.byteLength
        if (!this.limiter.allow(from, frame.byteLength)) {
          // Dropped like a lost datagram: the stream stays, SWIM tolerates loss...
          counters.dropped.rateLimited++
          const now = performance.now()
          let over = this.overLimit.get(from)
          if (over == null || now - over.since > 1000) {
            over = { since: now, frames: 0 }
            this.overLimit.set(from, over)
          }
          over.frames++
          if (over.frames >= config.inboundFrameBurstPerPeer) {
            // ...unless the peer keeps going: a whole burst's worth over the limit
            // within a second is a flood, not a busy member. Cut it off; a member
            // that reconnects starts again with a full bucket.
            this.overLimit.delete(from)
            log.error('peer %s sent %d frames over the SWIM rate limit within a second: disconnecting it', from, over.frames)
            this.disconnectFlooder(stream, from)
            return
          }
          continue
        }
        let msg: Message
        try {
          const decoded = decodeFrame(frame.subarray())
          msg = decoded.msg
          if (msg.type === 'sync') {
            const whole = syncParts.add(msg, decoded.more, frame.byteLength)
            if (whole == null) continue // more parts to come
            msg = whole
          }
        } catch (err) {
          counters.dropped[DECODE_DROPS[(err as Error).name] ?? 'malformed']++
          log('dropping stream from %s: %s', from, (err as Error).message)
          stream.abort(err as Error)
          return
        }
        counters.messagesIn++
        counters.messagesByType.in[msg.type] = (counters.messagesByType.in[msg.type] ?? 0) + 1
        if (state() !== 'started') return
        idle.touch(from)
        paths.heard(from, via, msg)
        try {
          handlers.onMessage(from, msg)
        } catch (err) {
          log.error('onMessage threw - %e', err)
        }
      }
      // the remote closed its end: close ours
      await stream.close({ signal: AbortSignal.timeout(1000) }).catch(err => { stream.abort(err as Error) })
    } catch (err) {
      const drop = framingDrop(err)
      if (drop != null) counters.dropped[drop]++
      log('inbound stream from %s ended - %e', from, err)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      syncParts.release()
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
        this.options.counters.dropped.rateLimited++
        this.options.log.error('peer %s sent data in more pieces than the SWIM rate limit allows: disconnecting it', from)
        this.disconnectFlooder(stream, from)
        return
      }
      yield chunk
    }
  }

  private disconnectFlooder (stream: Stream, from: string): void {
    this.options.counters.peersDisconnected++
    stream.abort(new Error('rate limit exceeded'))
    void this.options.libp2p.hangUp(peerIdFromString(from)).catch(() => {})
  }
}
