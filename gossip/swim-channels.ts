/**
 * The SWIM transport's outbound side: one channel per remote peer (or, until
 * its id is learned, per address set) with a bounded queue of frames, and the
 * pump that writes each channel's queue in order, dialling (swim-dial.ts) and
 * re-opening its stream as needed. Every failure is reported to
 * onDeliveryFailed, never from inside send() (swim-send-reports.ts).
 */
import { framesOf } from './sync-parts.ts'
import { beforeDeadline, classifyDialError, DialDeadlineError, openStream, SelfDialError, type DialContext } from './swim-dial.ts'
import { allMayWait, connectionFrom, gossipDialWait, mayWaitForPeersDial } from './dial-yield.ts'
import type { SwimPathsMonitor } from './swim-paths-monitor.ts'
import { SwimSendReports } from './swim-send-reports.ts'
import type { SwimPartOptions, SwimTransportHandlers } from './swim-types.ts'
import type { NeighbourConnections } from './neighbour-connections.ts'
import type { DeliveryFailure, Destination, Message } from '../membership/types.ts'
import type { Stream } from '@libp2p/interface'

/** One outbound message waiting for (or being written to) a stream. */
export interface Outgoing {
  to: Destination
  msg: Message
  /** Length prefix and body in one buffer. */
  frame: Uint8Array
  /** Already re-queued once after a stream broke under it. */
  retried: boolean
  /** A ping reported to onConnecting: it waits for a dial, and its going out is reported too. */
  connecting: boolean
}

/** Outbound state for one remote peer (or, until its id is learned, one address set). */
export interface Channel {
  key: string
  /** Peer id, known up front or learned from the first connection. */
  peerId?: string
  /** Addresses to dial (without /p2p/), the latest a destination gave. */
  addrs: string[]
  /** Key in `aliases` when this channel was created for an address-only destination. */
  addrKey?: string
  /** The addresses of the dial in progress (for marking their paths down if it fails). */
  dialling?: string[]
  /** The pump waits for a dial: pings queued now wait for a handshake (reported to onConnecting). */
  connecting?: boolean
  stream?: Stream
  /** Remote address of the connection `stream` runs on. */
  via?: string
  queue: Outgoing[]
  queuedBytes: number
  /** The pump loop writing this channel's queue, while it runs. */
  pump?: Promise<void>
  /** Ends the wait for the peer's own dial (dial-yield.ts) when something that may not wait is queued. */
  yielding?: AbortController
}

export interface ChannelsOptions extends SwimPartOptions {
  selfId: string
  /** The transport's shutdown signal (a new one at each start): aborts dials and drain waits. */
  shutdown: () => AbortSignal
  handlers: Pick<SwimTransportHandlers, 'onDeliveryFailed' | 'onConnecting' | 'onSentAfterConnecting'>
  paths: SwimPathsMonitor
  idle: NeighbourConnections
}

export class SwimChannels {
  /** Channels by peer id, or by `addrs:<addrKey>` while the id is unknown. */
  private readonly channels = new Map<string, Channel>()
  /** Address sets (of address-only destinations) to the peer id they led to. */
  private readonly aliases = new Map<string, string>()
  private readonly options: ChannelsOptions
  private readonly dial: DialContext
  private readonly reports: SwimSendReports

  constructor (options: ChannelsOptions) {
    this.options = options
    this.reports = new SwimSendReports(options)
    const { libp2p, selfId, config, shutdown, paths } = options
    this.dial = {
      libp2p,
      selfId,
      config,
      shutdown,
      paths,
      channelOf: id => this.channels.get(id),
      learn: (channel, peerId) => { this.learn(channel, peerId) },
      dialling: channel => { this.dialling(channel) }
    }
  }

  /** Ends every wait for a peer's own dial (stop() flushes at once what is queued). */
  endWaits (): void {
    for (const channel of this.channels.values()) channel.yielding?.abort()
  }

  /** The channel of peer `id`, if there is one. */
  get (id: string): Channel | undefined {
    return this.channels.get(id)
  }

  /** The pumps running now (stop() lets them finish). */
  pumps (): Array<Promise<void>> {
    return [...this.channels.values()].map(ch => ch.pump).filter(p => p != null)
  }

  /** The channels' outbound streams. */
  streams (): Stream[] {
    return [...this.channels.values()].map(ch => ch.stream).filter(s => s != null)
  }

  clear (): void {
    this.channels.clear()
    this.aliases.clear()
  }

  /** The last connection to peer `id` closed: its stream and the address sets that led to it are gone. */
  peerDisconnected (id: string): void {
    for (const [key, peer] of this.aliases) {
      if (peer === id) this.aliases.delete(key)
    }
    const channel = this.channels.get(id)
    if (channel != null) {
      channel.stream = undefined
      this.forgetIfIdle(channel)
    }
  }

  /** See SwimTransport.send. */
  send (to: Destination, msg: Message): void {
    try {
      this.enqueue(to, msg)
    } catch (err) {
      // last line of defence for the never-throws promise (e.g. `to` is not an object)
      this.reports.dropped(to, msg, 'error', 'sendFailed', `send failed: ${(err as Error)?.message}`)
    }
  }

  private enqueue (to: Destination, msg: Message): void {
    const { config, counters, state } = this.options
    if (state() === 'stopping' || state() === 'stopped') {
      // documented: nothing is reported once stop() has begun
      counters.dropped.sendFailed++
      return
    }
    if (state() !== 'started') {
      this.reports.dropped(to, msg, 'error', 'sendFailed', 'transport not started')
      return
    }
    const encoded = framesOf(msg, config.maxMessageBytes)
    if ('why' in encoded) {
      this.reports.dropped(to, msg, 'error', encoded.counter, encoded.why)
      return
    }
    const { frames } = encoded
    const bytes = frames.reduce((sum, frame) => sum + frame.byteLength, 0)
    let channel: Channel
    try {
      channel = this.channelFor(to)
    } catch (err) {
      this.reports.dropped(to, msg, 'error', 'sendFailed', (err as Error).message)
      return
    }
    const pending = channel.queuedBytes + (channel.stream?.writeBufferLength ?? 0)
    if (channel.queue.length + frames.length > config.maxQueuedMessagesPerPeer ||
        (pending > 0 && pending + bytes > config.maxQueuedBytesPerPeer)) {
      this.reports.dropped(to, msg, 'timeout', 'backpressure', `queue for ${channel.key} is full`)
      return
    }
    // a sync in parts: one entry per frame, all for the same message (reported failed once)
    const outs: Outgoing[] = frames.map(frame => ({ to, msg, frame, retried: false, connecting: false }))
    channel.queue.push(...outs)
    channel.queuedBytes += bytes
    const out = outs[outs.length - 1]
    if (channel.connecting === true) {
      // reported after send() returns; by then the dial may be over and the ping sent
      queueMicrotask(() => { if (channel.connecting === true && channel.queue.includes(out)) this.reportConnecting(out) })
    }
    if (channel.yielding != null && !mayWaitForPeersDial(msg)) channel.yielding.abort()
    this.kick(channel)
  }

  /** The channel a destination maps to, created if needed. Throws for self and for empty destinations. */
  private channelFor (to: Destination): Channel {
    const addrs = Array.isArray(to.addrs) ? to.addrs.filter(a => typeof a === 'string') : []
    if (to.id != null) {
      if (to.id === this.options.selfId) throw new SelfDialError('destination is this node')
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
      .catch(err => { this.options.log.error('pump for %s failed - %e', channel.key, err) })
      .finally(() => {
        channel.pump = undefined
        // sends queued while the pump was finishing
        if (channel.queue.length > 0 && this.options.state() === 'started' && this.channels.get(channel.key) === channel) {
          this.kick(channel)
        } else {
          this.forgetIfIdle(channel)
        }
      })
  }

  /**
   * Waits before dialling a peer for gossip alone (dial-yield.ts): for its own
   * dial, or for the ring to settle. False when the queue is better left unsent:
   * no connection came, and by now the peer is not a gossip neighbour.
   */
  private async waitBeforeGossipDial (channel: Channel): Promise<boolean> {
    const { libp2p, selfId, config, counters, shutdown, state, idle } = this.options
    const peer = channel.peerId
    // a node that stops sends what it has (a leave) at once
    const wait = peer == null || state() !== 'started' ? undefined : gossipDialWait(selfId, peer, libp2p, channel.queue, config)
    if (peer == null || wait == null) return true
    channel.yielding = new AbortController()
    counters.gossipDialWaits[wait.why]++
    try {
      if (await connectionFrom(libp2p, peer, wait.ms, AbortSignal.any([shutdown(), channel.yielding.signal]))) {
        counters.gossipDialWaits.connected++
        return true
      }
    } finally {
      channel.yielding = undefined
    }
    // While members join together their rings fill in, and a neighbour of a
    // moment ago is often not one any more: a dial now would be a handshake on
    // both sides for gossip its current neighbours carry (docs/neighbourhood.md).
    if (state() !== 'started' || idle.isNeighbour(peer) || !allMayWait(channel.queue)) return true
    counters.gossipDialWaits.noLongerNeighbour++
    return false
  }

  /** Writes the channel's queue in order, dialling and (re)opening the stream as needed. */
  private async pump (channel: Channel): Promise<void> {
    const { config, counters, log, paths, idle, state, shutdown } = this.options
    while (channel.queue.length > 0 && state() !== 'stopped' && !shutdown().aborted) {
      let stream = channel.stream
      if (stream == null || stream.writeStatus !== 'writable') {
        channel.stream = undefined
        if (!await this.waitBeforeGossipDial(channel)) {
          // not a delivery failure: the membership ignores those of gossip and digests
          channel.queue = []
          channel.queuedBytes = 0
          return
        }
        try {
          stream = await this.open(channel)
        } catch (err) {
          if (shutdown().aborted) return
          const reason = await classifyDialError(err, channel.addrs, config.dialTimeoutMs)
          log('dial %s failed (%s) - %e', channel.key, reason, err)
          // Which addresses failed is known when all refused (each one did) or when
          // only one was dialled; a timeout of several may not have tried them all.
          const peer = channel.peerId
          const failed = channel.dialling ?? []
          if (peer != null && !(err instanceof SelfDialError) && (reason === 'refused' || failed.length === 1)) {
            for (const addr of failed) paths.evidence(peer, addr, now => paths.table.down(peer, addr, reason, now), () => `${addr} down (dial: ${reason})`)
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
        log('send to %s failed - %e', channel.key, err)
        if (channel.stream === stream) channel.stream = undefined
        if (!out.retried) {
          out.retried = true
          channel.queue.unshift(out)
          channel.queuedBytes += out.frame.byteLength
        } else {
          this.reports.failed(out.to, out.msg, 'error', 'sendFailed')
        }
        continue
      }
      if (out.connecting) this.reports.sentAfterConnecting(out.to, out.msg)
      counters.messagesOut++
      counters.messagesByType.out[out.msg.type] = (counters.messagesByType.out[out.msg.type] ?? 0) + 1
      counters.bytesOut += out.frame.byteLength
      if (channel.peerId != null) idle.touch(channel.peerId)
      if (out.msg.type === 'ping' && channel.peerId != null && out.msg.target === channel.peerId) paths.notePing(out.msg.seq, channel.peerId)
      if (!ready) {
        try {
          await stream.onDrain({ signal: shutdown() })
        } catch {
          // stream closed or transport stopping; the loop re-opens or exits
          if (channel.stream === stream) channel.stream = undefined
        }
      }
    }
  }

  /**
   * Opens the channel's stream. A send gives up on the dial at dialTimeoutMs,
   * but a ping waiting for it gets the dial's whole connectTimeoutMs: failing
   * it sooner would make a slow handshake (a starved host) the probe's verdict
   * on the member (membership/probe.ts).
   */
  private async open (channel: Channel): Promise<Stream> {
    const opening = openStream(this.dial, channel)
    try {
      return await beforeDeadline(opening, this.options.config.dialTimeoutMs)
    } catch (err) {
      if (!(err instanceof DialDeadlineError) || !channel.queue.some(out => out.connecting)) throw err
      const impatient = channel.queue.filter(out => !out.connecting)
      channel.queue = channel.queue.filter(out => out.connecting)
      channel.queuedBytes = channel.queue.reduce((sum, out) => sum + out.frame.byteLength, 0)
      for (const out of impatient) this.reports.failed(out.to, out.msg, 'timeout', 'sendFailed')
      return await opening
    } finally {
      channel.connecting = false
    }
  }

  /** The channel's pump starts a dial: its pings (now and until the dial ends) wait for a handshake. */
  private dialling (channel: Channel): void {
    channel.connecting = true
    for (const out of channel.queue) this.reportConnecting(out)
  }

  private reportConnecting (out: Outgoing): void {
    if (out.connecting || out.msg.type !== 'ping' || !this.reports.connectingHeard) return
    out.connecting = true
    this.options.counters.pingsWaitedForConnection++
    this.reports.connecting(out.to, out.msg)
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
    // the parts of a sync share their message: one failure each
    for (const [i, out] of failed.entries()) if (failed[i - 1]?.msg !== out.msg) this.reports.failed(out.to, out.msg, reason, 'sendFailed')
  }

  private forgetIfIdle (channel: Channel): void {
    if (channel.queue.length > 0 || channel.pump != null) return
    if (channel.stream != null && channel.stream.writeStatus === 'writable') return
    if (this.channels.get(channel.key) === channel) this.channels.delete(channel.key)
  }
}
