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

/**
 * ws's client, holding the messages that arrive before anyone listens for
 * them. ws parses what came in the same packet as the upgrade's answer at
 * once, before @libp2p/websockets (which waits for `open`, then for a
 * microtask) attaches its listener; undici dispatches later. With a cluster
 * key both sides speak first (the key's nonce), and a nonce lost so hangs
 * the handshake.
 */
class HoldingClient extends WsClient {
  #held: Array<[unknown, boolean]> | undefined = []
  readonly #hold = (data: unknown, isBinary: boolean): void => { this.#held?.push([data, isBinary]) }

  constructor (url: string) {
    super(url)
    this.on('message', this.#hold)
  }

  // the signature of ws's own, whose overloads TypeScript cannot repeat here
  override addEventListener (type: any, listener: any, options?: any): void {
    super.addEventListener(type, listener, options)
    const held = this.#held
    if (type !== 'message' || held == null) return
    this.#held = undefined
    this.off('message', this.#hold)
    for (const [data, isBinary] of held) this.emit('message', data, isBinary)
  }
}

/** ws's WebSocket class (holding early messages) on Node; undefined (the global) on Deno. */
export function webSocketClient (): (new (url: string) => WebSocket) | undefined {
  if ('Deno' in globalThis) return undefined
  return HoldingClient as unknown as new (url: string) => WebSocket
}
