/**
 * Control API: HTTP + JSON, bound to loopback by default. The CLI subcommands
 * are its clients.
 *
 *   GET  /v1/members  every known member (what `agent members --json` prints)
 *   GET  /v1/self     this node
 *   GET  /v1/stats    protocol and transport counters
 *   GET  /v1/health   this node's side of a partition and member counts by status
 *   GET  /v1/events   server-sent events, one per member or partition event
 *   POST /v1/leave    graceful leave; the agent exits afterwards
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Agent, AgentEventType } from './agent.ts'
import { CLUSTER_EVENT_TYPES, MEMBER_EVENT_TYPES } from './member-view.ts'
import { authorized } from './rpc-token.ts'

export interface ControlApi {
  address: { host: string, port: number }
  close: () => Promise<void>
}

const EVENT_TYPES: AgentEventType[] = [...MEMBER_EVENT_TYPES, ...CLUSTER_EVENT_TYPES]
/** Largest request body accepted. The API's bodies are small JSON documents. */
export const MAX_BODY_BYTES = 64 * 1024
const SSE_KEEPALIVE_MS = 15_000

class HttpError extends Error {
  readonly status: number
  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** With a `token`, every request must carry `Authorization: Bearer <token>` (401 otherwise). */
export async function startControlApi (agent: Agent, at: { host: string, port: number }, token?: string): Promise<ControlApi> {
  const server = createServer((req, res) => {
    if (token != null && !authorized(req.headers.authorization, token)) {
      res.setHeader('www-authenticate', 'Bearer')
      sendJson(res, 401, { error: 'missing or wrong token (Authorization: Bearer <token>)' })
      return
    }
    route(agent, req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500
      if (res.headersSent) { res.destroy(); return }
      if (status === 413) {
        // The rest of the body is not read: close the connection once the answer is out,
        // or a client still uploading would wait forever.
        res.setHeader('connection', 'close')
        res.on('finish', () => { req.destroy() })
      }
      sendJson(res, status, { error: (err as Error).message })
    })
  })
  // Malformed HTTP from a client: answer 400 and drop that socket; the server keeps serving.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
    else socket.destroy()
  })
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(at.port, at.host, () => { server.off('error', reject); resolve() })
  })
  const bound = server.address() as AddressInfo
  return {
    address: { host: bound.address, port: bound.port },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

async function route (agent: Agent, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname
  const method = req.method ?? 'GET'
  const allow = (methods: string[]): void => {
    if (!methods.includes(method)) throw new HttpError(405, `${method} not allowed on ${path} (use ${methods.join(', ')})`)
  }
  if (!agent.isRunning) throw new HttpError(503, 'the agent is not running')
  switch (path) {
    case '/v1/members':
      allow(['GET'])
      return sendJson(res, 200, agent.members())
    case '/v1/self':
      allow(['GET'])
      return sendJson(res, 200, agent.self())
    case '/v1/stats':
      allow(['GET'])
      return sendJson(res, 200, agent.stats())
    case '/v1/health':
      allow(['GET'])
      return sendJson(res, 200, agent.health())
    case '/v1/events':
      allow(['GET'])
      return streamEvents(agent, req, res)
    case '/v1/leave':
      allow(['POST'])
      await readBody(req)
      sendJson(res, 202, { leaving: true })
      // Answer first: the leave stops this very server.
      setImmediate(() => { agent.leave().catch(() => {}) })
      return
    default:
      throw new HttpError(404, `no such endpoint: ${path}`)
  }
}

function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n'
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** Reads and returns the body, refusing more than MAX_BODY_BYTES with 413. */
export async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function streamEvents (agent: Agent, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
  res.write(': connected\n\n')
  const unsubscribe = EVENT_TYPES.map(type => agent.on(type, payload => {
    res.write(`event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`)
  }))
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS)
  const end = (): void => {
    clearInterval(keepalive)
    unsubscribe.forEach(off => off())
    res.end()
  }
  req.on('close', end)
  agent.addEventListener('stopped', end, { once: true })
}
