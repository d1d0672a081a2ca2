/**
 * The WebSocket transport with the bounds its listener lacks
 * (@libp2p/websockets 10.1.21 on ws 8.23):
 *
 * - After the HTTP upgrade, `ws` reports a frame it rejects (no mask, reserved
 *   bits, a control frame over 125 bytes, a bad close frame, an impossible
 *   length) as an `error` event on the server-side socket, and the listener
 *   attaches no `error` listener: the event is unhandled and the process
 *   exits. Two bytes from anyone who reaches the port, before the cluster key
 *   or noise is checked. Every accepted socket gets a listener here; the bad
 *   frame closes that one connection and is counted.
 * - A TCP connection that never completes its HTTP upgrade is held forever
 *   (the listener waits for its first byte without a timeout), and `ws` turns
 *   the socket's timeout off once upgraded. @libp2p/tcp closes a socket idle
 *   for 2 minutes; this does the same for WebSocket connections, and gives
 *   the HTTP upgrade the upgrader's own budget.
 * - `ws` accepts messages of up to 100 MiB. libp2p's WebSocket connections
 *   carry noise frames (at most 64 KiB each); a larger message closes the
 *   connection (status 1009) instead of being buffered.
 *
 * The listener's `server` (net.Server) and `wsServer` (ws.WebSocketServer)
 * are plain properties at runtime; if a later version renames them, the guard
 * says so at start rather than silently not applying.
 */
import type { Socket } from 'node:net'
import { webSockets } from '@libp2p/websockets'
import type { Listener, Transport } from '@libp2p/interface'

export interface WebSocketGuardOptions {
  /** A connection that has not completed its HTTP upgrade after this long is closed. */
  upgradeTimeoutMs: number
  /** An upgraded connection with no traffic either way for this long is closed (as @libp2p/tcp does). */
  idleTimeoutMs: number
  /** Largest WebSocket message accepted. */
  maxMessageBytes: number
}

export const DEFAULT_WEBSOCKET_GUARD: Readonly<WebSocketGuardOptions> = Object.freeze({
  upgradeTimeoutMs: 10_000,
  idleTimeoutMs: 2 * 60_000,
  maxMessageBytes: 256 * 1024
})

/** Counters shared by every listener of one node. */
export interface WebSocketGuardStats {
  /** Connections closed for a frame `ws` rejected, or a socket error. */
  badFrames: number
  /** Connections closed for silence before or after the upgrade. */
  idleClosed: number
}

/** What the guard reaches into; absent fields mean an upstream change. */
interface ListenerInternals {
  server?: { on: (event: 'connection', fn: (socket: Socket) => void) => void }
  wsServer?: {
    options?: { maxPayload?: number }
    handleUpgrade: (req: unknown, socket: Socket, head: unknown, cb: UpgradeCallback) => void
  }
}

/** ws' `handleUpgrade` callback: the new WebSocket and the HTTP request. */
type UpgradeCallback = (ws: { on: (event: 'error', fn: (err: Error) => void) => void }, req: unknown) => void

export class WebSocketGuardError extends Error {
  override name = 'WebSocketGuardError'
}

/** `webSockets()` whose listeners are hardened as described above. */
export function guardedWebSockets (stats: WebSocketGuardStats, options: WebSocketGuardOptions = DEFAULT_WEBSOCKET_GUARD): (components: any) => Transport {
  const factory = webSockets()
  return (components) => {
    const transport = factory(components)
    const createListener = transport.createListener.bind(transport)
    transport.createListener = (opts) => harden(createListener(opts), stats, options)
    return transport
  }
}

function harden (listener: Listener, stats: WebSocketGuardStats, options: WebSocketGuardOptions): Listener {
  const { server, wsServer } = listener as unknown as ListenerInternals
  if (server == null || wsServer?.options == null || typeof wsServer.handleUpgrade !== 'function') {
    throw new WebSocketGuardError('@libp2p/websockets listener internals changed: gossip/ws-guard.ts cannot bound its connections')
  }
  wsServer.options.maxPayload = options.maxMessageBytes
  server.on('connection', (socket) => {
    // one listener for both phases: the upgrade's budget first, then idleness
    socket.setTimeout(options.upgradeTimeoutMs)
    socket.on('timeout', () => {
      stats.idleClosed++
      socket.destroy()
    })
  })
  // The listener upgrades with a callback (no `connection` event): wrap the
  // callback so that the socket has its error listener before any frame is read.
  const handleUpgrade = wsServer.handleUpgrade.bind(wsServer)
  wsServer.handleUpgrade = (req, socket, head, cb) => {
    handleUpgrade(req, socket, head, (ws, request) => {
      ws.on('error', () => {
        // ws closes the connection itself after the error (1002/1009); only count it
        stats.badFrames++
      })
      // ws set the socket's timeout to 0 at the upgrade; from now on only silence closes it
      socket.setTimeout(options.idleTimeoutMs)
      cb(ws, request)
    })
  }
  return listener
}
