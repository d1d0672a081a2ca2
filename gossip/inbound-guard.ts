/**
 * Bounds on inbound connections that the transports' listeners lack
 * (@libp2p/tcp 11, @libp2p/websockets 10.1.21 on ws 8.23), and a count of
 * the inbound connections that never became libp2p connections.
 *
 * Both transports: every inbound upgrade that fails (garbage, a wrong or no
 * cluster key, a handshake that times out) is counted per transport, from a
 * wrapper around the upgrader the listener is given.
 *
 * WebSocket only:
 * - After the HTTP upgrade, `ws` reports a frame it rejects (no mask, reserved
 *   bits, a control frame over 125 bytes, a bad close frame, an impossible
 *   length) as an `error` event on the server-side socket, and the listener
 *   attaches no `error` listener: the event is unhandled and the process
 *   exits. Two bytes from anyone who reaches the port, before the cluster key
 *   or noise is checked. Every accepted socket gets a listener here; the bad
 *   frame closes that one connection and is counted.
 * - The listener waits for a connection's first byte, and then for its HTTP
 *   upgrade, without a deadline: a silent or slow client (a byte every few
 *   seconds) holds a socket forever. Here the upgrade must be done within
 *   upgradeTimeoutMs of the connect, whatever trickles in; after it, a
 *   connection silent for idleTimeoutMs is closed, as @libp2p/tcp does.
 * - No bound on connections still in their HTTP phase (libp2p's own bound on
 *   pending upgrades starts after it): past maxPendingUpgrades, new ones are
 *   closed at once and counted, so a flood of them cannot use up the
 *   process's file descriptors.
 * - `ws` accepts messages of up to 100 MiB; libp2p's WebSocket connections
 *   carry noise frames (at most 64 KiB each), so a larger message closes the
 *   connection (status 1009) instead of being buffered.
 * - A connection the agent closes waits `ws`' default 30 s for the client's
 *   close frame; here closeTimeoutMs.
 *
 * The WebSocket listener's `server` (net.Server) and `wsServer`
 * (ws.WebSocketServer) are plain properties at runtime; if a later version
 * renames them, the guard says so at start rather than silently not applying.
 */
import type { Socket } from 'node:net'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { webSocketClient } from './ws-client.ts'
import type { Listener, Transport, Upgrader } from '@libp2p/interface'

export interface WebSocketGuardOptions {
  /** A connection must complete its HTTP upgrade within this long of connecting. */
  upgradeTimeoutMs: number
  /** An upgraded connection with no traffic either way for this long is closed (as @libp2p/tcp does). */
  idleTimeoutMs: number
  /** Connections in their HTTP phase at once; more are closed at once. */
  maxPendingUpgrades: number
  /** Largest WebSocket message accepted. */
  maxMessageBytes: number
  /** How long a connection this side closed waits for the client's close frame. */
  closeTimeoutMs: number
}

export const DEFAULT_WEBSOCKET_GUARD: Readonly<WebSocketGuardOptions> = Object.freeze({
  upgradeTimeoutMs: 10_000,
  idleTimeoutMs: 2 * 60_000,
  // as libp2p's maxIncomingPendingConnections (gossip/libp2p-node.ts)
  maxPendingUpgrades: 256,
  maxMessageBytes: 256 * 1024,
  closeTimeoutMs: 2000
})

/** Counters shared by every listener of one node; they only grow. */
export interface InboundStats {
  /** Inbound connections that never became libp2p connections (garbage, wrong or no cluster key, handshake timeout), by transport. */
  upgradesFailed: { tcp: number, ws: number }
  webSocket: {
    /** Connections closed for a frame `ws` rejected. */
    badFrames: number
    /** Connections closed for not upgrading in time, or for silence after it. */
    idleClosed: number
    /** Connections closed at once because maxPendingUpgrades were in their HTTP phase. */
    refused: number
  }
}

export function newInboundStats (): InboundStats {
  return { upgradesFailed: { tcp: 0, ws: 0 }, webSocket: { badFrames: 0, idleClosed: 0, refused: 0 } }
}

/** What the guard reaches into; absent fields mean an upstream change. */
interface WebSocketListenerInternals {
  server?: { on: (event: 'connection', fn: (socket: Socket) => void) => void }
  wsServer?: {
    options?: { maxPayload?: number, closeTimeout?: number }
    handleUpgrade: (req: unknown, socket: Socket, head: unknown, cb: UpgradeCallback) => void
  }
}

/** ws' `handleUpgrade` callback: the new WebSocket and the HTTP request. */
type UpgradeCallback = (ws: { on: (event: 'error', fn: (err: Error) => void) => void }, req: unknown) => void

export class InboundGuardError extends Error {
  override name = 'InboundGuardError'
}

type TransportFactory = (components: any) => Transport

/**
 * `tcp()` whose failed inbound upgrades are counted, and whose dials give up
 * the TCP connect itself after `connectTimeoutMs` (an address that does not
 * answer a SYN), however long libp2p lets the handshake after it take.
 */
export function guardedTcp (stats: InboundStats, connectTimeoutMs: number): TransportFactory {
  // @libp2p/tcp hands dialOpts to net.connect as they are; its type lists only a few of them
  const dialOpts = { timeout: connectTimeoutMs } as unknown as NonNullable<Parameters<typeof tcp>[0]>['dialOpts']
  return wrapListeners(tcp({ dialOpts }), (listener) => listener, stats, 'tcp')
}

/** `webSockets()` hardened as described above, its failed inbound upgrades counted. */
export function guardedWebSockets (stats: InboundStats, options: WebSocketGuardOptions = DEFAULT_WEBSOCKET_GUARD): TransportFactory {
  return wrapListeners(webSockets({ WebSocket: webSocketClient() }), (listener) => hardenWebSocket(listener, stats, options), stats, 'ws')
}

/** Wraps each listener the transport creates, and the upgrader it hands it. */
function wrapListeners (factory: TransportFactory, harden: (listener: Listener) => Listener, stats: InboundStats, kind: 'tcp' | 'ws'): TransportFactory {
  return (components) => {
    const transport = factory(components)
    const createListener = transport.createListener.bind(transport)
    transport.createListener = (opts) => harden(createListener({ ...opts, upgrader: countingUpgrader(opts.upgrader, stats, kind) }))
    return transport
  }
}

/** The upgrader with its inbound failures counted; every other member passes through to it. */
function countingUpgrader (upgrader: Upgrader, stats: InboundStats, kind: 'tcp' | 'ws'): Upgrader {
  return new Proxy(upgrader, {
    get (target, prop) {
      if (prop === 'upgradeInbound') {
        return async (...args: Parameters<Upgrader['upgradeInbound']>) => {
          try {
            await target.upgradeInbound(...args)
          } catch (err) {
            stats.upgradesFailed[kind]++
            throw err
          }
        }
      }
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

function hardenWebSocket (listener: Listener, stats: InboundStats, options: WebSocketGuardOptions): Listener {
  const { server, wsServer } = listener as unknown as WebSocketListenerInternals
  if (server == null || wsServer?.options == null || typeof wsServer.handleUpgrade !== 'function') {
    throw new InboundGuardError('@libp2p/websockets listener internals changed: gossip/inbound-guard.ts cannot bound its connections')
  }
  wsServer.options.maxPayload = options.maxMessageBytes
  wsServer.options.closeTimeout = options.closeTimeoutMs
  /** Sockets between connect and upgrade, each with its deadline. */
  const pending = new Map<Socket, ReturnType<typeof setTimeout>>()
  const settle = (socket: Socket): void => {
    clearTimeout(pending.get(socket))
    pending.delete(socket)
  }
  server.on('connection', (socket) => {
    if (pending.size >= options.maxPendingUpgrades) {
      stats.webSocket.refused++
      socket.destroy()
      return
    }
    // a deadline, not an idle timer: a client trickling bytes does not extend it
    pending.set(socket, setTimeout(() => {
      stats.webSocket.idleClosed++
      socket.destroy()
    }, options.upgradeTimeoutMs))
    socket.once('close', () => { settle(socket) })
    socket.on('timeout', () => {
      stats.webSocket.idleClosed++
      socket.destroy()
    })
  })
  // The listener upgrades with a callback (no `connection` event): wrap the
  // callback so that the socket has its error listener before any frame is read.
  const handleUpgrade = wsServer.handleUpgrade.bind(wsServer)
  wsServer.handleUpgrade = (req, socket, head, cb) => {
    handleUpgrade(req, socket, head, (ws, request) => {
      settle(socket)
      ws.on('error', () => {
        // ws closes the connection itself after the error (1002/1009); only count it
        stats.webSocket.badFrames++
      })
      // ws set the socket's timeout to 0 at the upgrade; from now on only silence closes it
      socket.setTimeout(options.idleTimeoutMs)
      cb(ws, request)
    })
  }
  return listener
}
