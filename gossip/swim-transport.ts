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
import { newRttHistogram } from './rtt-histogram.ts'
import { setMaxListeners } from 'node:events'
import { fromPartial } from './config.ts'
import { NeighbourConnections } from './neighbour-connections.ts'
import { WORK_PROTOCOL } from './work-transport.ts'
import { SwimChannels } from './swim-channels.ts'
import { SwimInbound } from './swim-inbound.ts'
import { SwimPathsMonitor } from './swim-paths-monitor.ts'
import { SWIM_PROTOCOL, type SwimCounters, type SwimTransport, type SwimTransportHandlers, type SwimTransportState, type SwimTransportStats } from './swim-types.ts'
import type { TransportConfig } from './config.ts'
import type { PathView } from './paths.ts'
import { withTimeout } from './with-timeout.ts'
import type { Destination, Message } from '../membership/types.ts'
import type { Connection, Libp2p, Logger, PeerId } from '@libp2p/interface'

// The parts, one concern each: swim-types.ts (public types), swim-channels.ts
// (per-peer queues and the write loop), swim-dial.ts (dialling and failure
// classification), swim-paths-monitor.ts (path evidence, checks and
// switches), swim-inbound.ts (reading and rate limits); multiaddrs.ts has the address helpers.
export { SWIM_PROTOCOL } from './swim-types.ts'
export type { SwimTransport, SwimTransportHandlers, SwimTransportStats } from './swim-types.ts'

export function createSwimTransport (libp2p: Libp2p, handlers: SwimTransportHandlers, config: Partial<TransportConfig> = {}): SwimTransport {
  return new SwimTransportImpl(libp2p, handlers, fromPartial(config))
}

class SwimTransportImpl implements SwimTransport {
  private readonly libp2p: Libp2p
  private readonly handlers: SwimTransportHandlers
  private readonly config: TransportConfig
  private readonly log: Logger
  private readonly idle: NeighbourConnections
  private readonly counters: SwimCounters = {
    messagesIn: 0,
    messagesOut: 0,
    messagesByType: { in: {}, out: {} },
    pingRtt: newRttHistogram(),
    bytesIn: 0,
    bytesOut: 0,
    dropped: { malformed: 0, oversized: 0, unsupportedVersion: 0, sendFailed: 0, backpressure: 0, rateLimited: 0 },
    pathSwitches: 0,
    peersDisconnected: 0,
    gossipDialWaits: { yielded: 0, settled: 0, connected: 0, noLongerNeighbour: 0 },
    pingsWaitedForConnection: 0,
    pathChecks: 0,
    pathCheckFailures: 0
  }

  private readonly opened = { inbound: 0, outbound: 0 }

  private readonly monitor: SwimPathsMonitor
  private readonly channels: SwimChannels
  private readonly inbound: SwimInbound

  private state: SwimTransportState = 'new'
  private shutdown = new AbortController()

  constructor (libp2p: Libp2p, handlers: SwimTransportHandlers, config: TransportConfig) {
    this.libp2p = libp2p
    this.handlers = handlers
    this.config = config
    this.log = libp2p.logger.forComponent('cluster:swim')
    const selfId = libp2p.peerId.toString()
    this.idle = new NeighbourConnections(libp2p, { idleCloseMs: config.idleConnectionCloseMs, busyProtocols: [WORK_PROTOCOL], neighbours: handlers.neighbours, neighbourOf: handlers.neighbourOf, dialTimeoutMs: config.connectTimeoutMs })
    const shared = { libp2p, config, log: this.log, counters: this.counters, handlers, state: () => this.state }
    this.monitor = new SwimPathsMonitor({ ...shared, selfId, channelOf: id => this.channels.get(id) })
    this.channels = new SwimChannels({ ...shared, selfId, shutdown: () => this.shutdown.signal, paths: this.monitor, idle: this.idle })
    this.inbound = new SwimInbound({ ...shared, paths: this.monitor, idle: this.idle })
  }

  async start (): Promise<void> {
    if (this.state === 'started') return
    this.shutdown = new AbortController()
    // every dial and drain wait listens on it
    setMaxListeners(Infinity, this.shutdown.signal)
    await this.libp2p.handle(SWIM_PROTOCOL, (stream, connection) => { this.inbound.read(stream, connection) }, {
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
    this.channels.endWaits()
    // 1. let the pumps write what is queued (a `leave` sent just before stop)
    const pumps = this.channels.pumps()
    await withTimeout(Promise.allSettled(pumps), deadline - Date.now())
    // 2. abort dials and drain waits still running
    this.shutdown.abort(new Error('SWIM transport stopped'))
    // 3. close outbound streams cleanly so written frames are flushed, then abort the rest
    const outbound = this.channels.streams()
    await withTimeout(Promise.allSettled(outbound.map(async s => {
      await s.close({ signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) })
    })), deadline - Date.now())
    for (const s of [...outbound, ...this.inbound.streams]) {
      s.abort(new Error('SWIM transport stopped'))
    }
    this.inbound.streams.clear()
    this.channels.clear()
    this.state = 'stopped'
  }

  stats (): SwimTransportStats {
    const { messagesByType, pingRtt } = this.counters
    return { ...this.counters, messagesByType: { in: { ...messagesByType.in }, out: { ...messagesByType.out } }, pingRtt: { ...pingRtt, counts: [...pingRtt.counts] }, dropped: { ...this.counters.dropped }, gossipDialWaits: { ...this.counters.gossipDialWaits }, idleConnectionsClosed: this.idle.closed, neighbourConnectionsOpened: this.idle.opened, connections: this.libp2p.getConnections().length, connectionsOpened: { ...this.opened } }
  }

  paths (id: string, addrs: readonly string[]): PathView[] {
    return this.monitor.view(id, addrs)
  }

  forgetPaths (id: string): void {
    this.monitor.forget(id)
  }

  checkPaths (members: ReadonlyArray<{ id: string, addrs: readonly string[] }>, staleAfterMs: number, timeoutMs: number): void {
    this.monitor.checkPaths(members, staleAfterMs, timeoutMs)
  }

  switchPath (id: string): void {
    this.monitor.switchPath(id)
  }

  send (to: Destination, msg: Message): void {
    this.channels.send(to, msg)
  }

  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    this.opened[evt.detail.direction]++
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.inbound.forget(id)
    this.idle.forget(id)
    this.channels.peerDisconnected(id)
    if (this.state !== 'started') return
    try {
      this.handlers.onPeerDisconnected(id)
    } catch (err) {
      this.log.error('onPeerDisconnected threw - %e', err)
    }
  }
}

