/**
 * How the SWIM transport gets a stream to a peer, and what a failure to get
 * one means: reusing a connection or dialling (other networks first after a
 * path switch), opening the stream, the send's deadline, and classifying a
 * failed dial as refused, timeout or error (with a bare TCP probe for
 * WebSocket addresses, whose errors say nothing). The probe also serves path
 * checks (swim-paths-monitor.ts).
 */
import { connect as netConnect } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { SWIM_PROTOCOL } from './swim-types.ts'
import { hostOf, peerIdIn, withoutPeerId, withPeerId } from './multiaddrs.ts'
import type { Channel } from './swim-channels.ts'
import { withTimeout } from './with-timeout.ts'
import { newestOpen } from './newest-connection.ts'
import type { SwimPathsMonitor } from './swim-paths-monitor.ts'
import type { TransportConfig } from './config.ts'
import type { DeliveryFailure } from '../membership/types.ts'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'

/** Raised internally when a destination resolves to this node. */
export class SelfDialError extends Error {
  override name = 'SelfDialError'
}

/** The send's deadline passed while its dial goes on (classified `timeout`). */
export class DialDeadlineError extends Error {
  override name = 'TimeoutError'
}

/** What a dial needs from the transport. */
export interface DialContext {
  libp2p: Libp2p
  selfId: string
  config: TransportConfig
  /** The transport's shutdown signal (a new one at each start). */
  shutdown: () => AbortSignal
  paths: SwimPathsMonitor
  /** The channel of peer `id`, if there is one. */
  channelOf: (id: string) => Channel | undefined
  /** An address-only channel found out who it talks to (swim-channels.ts). */
  learn: (channel: Channel, peerId: string) => void
  /** No connection to reuse: the channel's stream waits for a dial (a handshake). */
  dialling: (channel: Channel) => void
}

/**
 * Dials the channel's peer (reusing a connection when there is one) and
 * opens a SWIM stream, within connectTimeoutMs: the pump stops waiting at
 * dialTimeoutMs, but a dial that completes later is kept (libp2p joins the
 * next dial to the same peer to it, and the connection serves later sends).
 */
export async function openStream (ctx: DialContext, channel: Channel): Promise<Stream> {
  const signal = AbortSignal.any([ctx.shutdown(), AbortSignal.timeout(ctx.config.connectTimeoutMs)])
  const connection = await connect(ctx, channel, signal)
  const dialled = channel.dialling != null
  channel.dialling = undefined
  const remote = connection.remotePeer.toString()
  // a fresh connection (noise handshake done) proves its path
  const dialledAddr = connection.remoteAddr.toString()
  if (dialled && remote !== ctx.selfId) ctx.paths.evidence(remote, dialledAddr, now => ctx.paths.table.up(remote, dialledAddr, now), () => `${dialledAddr} up (dialled)`)
  if (remote === ctx.selfId) throw new SelfDialError('dialled this node')
  if (channel.peerId == null) ctx.learn(channel, remote)
  else if (channel.peerId !== remote) throw new Error(`expected peer ${channel.peerId}, connected to ${remote}`)
  const stream = await connection.newStream(SWIM_PROTOCOL, {
    signal,
    maxOutboundStreams: ctx.config.maxOutboundStreamsPerPeer
  })
  // outbound streams carry no inbound data; if the remote goes away, forget the stream
  stream.addEventListener('close', () => {
    const owner = ctx.channelOf(remote)
    if (owner?.stream === stream) owner.stream = undefined
  })
  const owner = ctx.channelOf(remote) ?? channel
  if (owner.stream != null && owner.stream !== stream && owner.stream.writeStatus === 'writable') {
    // another pump opened a stream to this peer meanwhile: keep one
    stream.abort(new Error('duplicate SWIM stream'))
    return owner.stream
  }
  owner.stream = stream
  owner.via = connection.remoteAddr.toString()
  return stream
}

async function connect (ctx: DialContext, channel: Channel, signal: AbortSignal): Promise<Connection> {
  const { libp2p, selfId } = ctx
  if (channel.peerId != null) {
    const peerId = peerIdFromString(channel.peerId)
    // an open connection whose path is not known down, else any open one
    const open = libp2p.getConnections(peerId)
    const peer = channel.peerId
    const existing = newestOpen(open.filter(c => ctx.paths.table.stateOf(peer, c.remoteAddr.toString()) !== 'down')) ?? newestOpen(open)
    if (existing != null) return existing
    ctx.dialling(channel)
    if (channel.addrs.length === 0) return await libp2p.dial(peerId, { signal })
    channel.dialling = [...channel.addrs]
    const addrs = channel.addrs.map(a => withPeerId(multiaddr(a), channel.peerId as string))
    // After a path switch, try the addresses on other hosts (networks) first:
    // libp2p would otherwise start with the one that just went silent.
    const avoid = ctx.paths.avoidedHosts(channel.peerId)
    const preferred = avoid == null ? addrs : addrs.filter(a => !avoid.has(hostOf(a) ?? ''))
    if (preferred.length > 0 && preferred.length < addrs.length) {
      try {
        return await libp2p.dial(preferred, { signal })
      } catch (err) {
        if (signal.aborted) throw err
      }
    }
    return await libp2p.dial(addrs, { signal })
  }
  // an address-only destination may still name its peer in /p2p/ (a join seed given with its id)
  const addrs = channel.addrs.map(a => multiaddr(a))
  const named = new Set(addrs.map(a => peerIdIn(a)).filter(id => id != null))
  if (named.size > 1) throw new Error('the addresses name different peers')
  const claimed = [...named][0]
  if (claimed === selfId) throw new SelfDialError('the addresses name this node')
  const bare = addrs.map(a => withoutPeerId(a))
  // a connection we already have to the named peer, or one we made to one of these addresses
  const dialled = new Set(bare.map(a => a.toString()))
  const existing = (claimed != null ? newestOpen(libp2p.getConnections(peerIdFromString(claimed))) : undefined) ??
    libp2p.getConnections().find(c =>
      c.status === 'open' && c.direction === 'outbound' && dialled.has(withoutPeerId(c.remoteAddr).toString()))
  if (existing != null) return existing
  const own = new Set(libp2p.getMultiaddrs().map(a => withoutPeerId(a).toString()))
  const targets = bare.filter(a => !own.has(a.toString())).map(a => claimed != null ? withPeerId(a, claimed) : a)
  if (targets.length === 0) throw new SelfDialError('every address is one of this node\'s')
  ctx.dialling(channel)
  return await libp2p.dial(targets, { signal })
}

/** `p`, or a DialDeadlineError after `ms`; `p` goes on either way, and its late failure is not unhandled. */
export async function beforeDeadline<T> (p: Promise<T>, ms: number): Promise<T> {
  return await withTimeout(p, ms, () => { throw new DialDeadlineError(`no stream within ${ms} ms`) })
}

/**
 * refused: every address refused the connection (TCP RST: the host is up,
 * nothing listens); timeout: our deadline passed; error: anything else
 * (wrong peer, handshake failure, protocol not supported, bad address...).
 * `addrs` are the channel's addresses, `dialTimeoutMs` bounds the TCP probe.
 */
export async function classifyDialError (err: unknown, addrs: readonly string[], dialTimeoutMs: number): Promise<DeliveryFailure> {
  if (err instanceof SelfDialError) return 'error'
  const leaves = leafErrors(err)
  if (leaves.some(e => isTimeout(e))) return 'timeout'
  if (leaves.length === 0) return 'error'
  if (leaves.every(e => isRefused(e))) return 'refused'
  // WebSocket dials fail with an opaque ErrorEvent (the WHATWG API hides the
  // cause). Find out whether the port refuses plain TCP connections.
  if (!leaves.every(e => isRefused(e) || isOpaque(e))) return 'error'
  const wsAddrs = addrs.filter(a => /\/(ws|wss|tls\/ws)(\/|$)/.test(a))
  if (wsAddrs.length === 0) return 'error'
  const probeMs = Math.min(500, dialTimeoutMs)
  const probes = await Promise.all(wsAddrs.map(async a => await probeTcp(a, probeMs)))
  if (probes.every(p => p === 'refused')) return 'refused'
  if (probes.some(p => p === 'timeout')) return 'timeout'
  return 'error'
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
export async function probeTcp (addr: string, timeoutMs: number): Promise<'refused' | 'open' | 'timeout' | 'error'> {
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
