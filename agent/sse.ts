/**
 * A server-sent event stream of the control API (GET /v1/events,
 * GET /v1/monitor): headers, a keepalive comment every 15 s, and an end when
 * the client goes or the agent stops. A client that does not read is cut off
 * once MAX_BACKLOG_BYTES wait for it, rather than held in memory without end
 * (it can connect again; `agent monitor` does by itself).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

const SSE_KEEPALIVE_MS = 15_000
export const MAX_BACKLOG_BYTES = 1024 * 1024

/**
 * Streams to `res`: `subscribe` gets the function that sends one event's text
 * and returns the function that unsubscribes.
 */
export function openEventStream (stopped: EventTarget, req: IncomingMessage, res: ServerResponse, subscribe: (send: (text: string) => void) => () => void): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
  res.write(': connected\n\n')
  let ended = false
  let unsubscribe = (): void => {}
  let keepalive: ReturnType<typeof setInterval> | undefined
  const end = (): void => {
    if (ended) return
    ended = true
    clearInterval(keepalive)
    unsubscribe()
    stopped.removeEventListener('stopped', end)
    res.end()
  }
  const send = (text: string): void => {
    if (ended) return
    if (res.writableLength > MAX_BACKLOG_BYTES) { end(); res.destroy(); return }
    res.write(text)
  }
  unsubscribe = subscribe(send)
  keepalive = setInterval(() => { send(': keepalive\n\n') }, SSE_KEEPALIVE_MS)
  req.on('close', end)
  stopped.addEventListener('stopped', end, { once: true })
}
