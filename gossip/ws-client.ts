/**
 * The WebSocket class an agent dials WebSocket addresses with.
 *
 * @libp2p/websockets dials with the global WebSocket, which on Node is
 * undici's: its first use loads undici and its HTTP parser (a WebAssembly
 * module), about 5 MB of resident memory for as long as the process lives
 * (measured: a lone agent joining a peer over /ws, 83 MB against 78 MB over
 * TCP, 2026-12-06). An agent dials a member's WebSocket address once its TCP
 * path to that member is marked down, which a dial that times out in a busy
 * start does (docs/scale.md, "Idle memory at 100"). The listener already
 * runs on the `ws` package; its client costs next to nothing more. Deno's
 * own global is native, and kept.
 */
import { WebSocket as WsClient } from 'ws'

/** ws's WebSocket class on Node; undefined (the global) on Deno. */
export function webSocketClient (): (new (url: string) => WebSocket) | undefined {
  if ('Deno' in globalThis) return undefined
  return WsClient as unknown as new (url: string) => WebSocket
}
