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
 *   POST /v1/jobs     submit {"workload", "input"}; answers {"id"} at once (202)
 *   GET  /v1/jobs     jobs this node and the alive members know
 *   GET  /v1/jobs/ID  one job, from whichever member knows it
 *   GET  /v1/workloads  the workloads this node can run
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Agent, AgentEventType } from './agent.ts'
import { CLUSTER_EVENT_TYPES, MEMBER_EVENT_TYPES } from './member-view.ts'
import { JobRejectedError } from './work.ts'
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
  if (path.startsWith('/v1/jobs/')) {
    allow(['GET'])
    const id = path.slice('/v1/jobs/'.length)
    if (!/^[0-9a-f]{1,64}$/.test(id)) throw new HttpError(400, `"${id.slice(0, 80)}" is not a job id`)
    const job = await agent.job(id)
    if (job == null) throw new HttpError(404, `no member knows job ${id}`)
    return sendJson(res, 200, job)
  }
  switch (path) {
    case '/v1/jobs':
      allow(['GET', 'POST'])
      if (method === 'GET') return sendJson(res, 200, await agent.jobs())
      return sendJson(res, 202, submitJob(agent, await readBody(req, agent.options.work.maxInputBytes + MAX_BODY_BYTES)))
    case '/v1/workloads':
      allow(['GET'])
      return sendJson(res, 200, agent.workloads.list())
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

/** `POST /v1/jobs`: a JSON object with a `workload` name and an optional `input`. */
function submitJob (agent: Agent, body: string): { id: string } {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch (err) {
    throw new HttpError(400, `body is not JSON: ${(err as Error).message}`)
  }
  if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'body must be a JSON object {"workload", "input"}')
  const { workload, input } = parsed as { workload?: unknown, input?: unknown }
  if (typeof workload !== 'string' || workload === '') throw new HttpError(400, '"workload" must be a non-empty string')
  try {
    return { id: agent.submit(workload, input ?? {}).id }
  } catch (err) {
    if (err instanceof JobRejectedError) throw new HttpError(400, err.message)
    throw err
  }
}

/** Reads and returns the body, refusing more than `limit` bytes with 413. */
export async function readBody (req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`)
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
