/**
 * Control API: HTTP + JSON, bound to loopback by default. The CLI subcommands
 * are its clients.
 *
 *   GET  /v1/members  every known member (what `agent members --json` prints)
 *   GET  /v1/self     this node
 *   GET  /v1/stats    protocol and transport counters
 *   GET  /v1/health   this node's side of a partition and member counts by status
 *   GET  /v1/events   server-sent events, one per member or partition event
 *   GET  /v1/monitor  server-sent log records (?level=error|warn|info|debug)
 *   GET  /metrics     Prometheus metrics
 *   GET  /ui/         the live web view (its files need no token; its data requests do)
 *   POST /v1/leave    graceful leave; the agent exits afterwards
 *   POST /v1/force-leave  {"name"}: retire a failed member cluster-wide (404 unknown, 409 not failed)
 *   POST /v1/jobs     submit {"workload", "input", "deadlineMs"?}; answers {"id"} at once (202)
 *   GET  /v1/jobs     jobs this node and the alive members know
 *   GET  /v1/jobs/ID  one job, from whichever member knows it
 *   DELETE /v1/jobs/ID  cancel the job, wherever it is coordinated
 *   GET  /v1/workloads  the workloads this node can run
 *
 * Every request must name this API in `Host` (403 otherwise) and carry no
 * `Origin` but its own (403); every POST and DELETE must be
 * `content-type: application/json` (415). Without them any web page a local
 * user opens could drive a token-less loopback API: browsers send `Origin` on
 * cross-site POSTs, cannot send that content type cross-site without a CORS
 * preflight (never granted here), and keep the attacker's name in `Host` when
 * that name is re-pointed at this host (DNS rebinding).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Agent, AgentEventType } from './agent.ts'
import { CLUSTER_EVENT_TYPES, MEMBER_EVENT_TYPES } from './member-view.ts'
import { JobRejectedError, type JobHandle } from './work.ts'
import { withTimeout } from '../gossip/index.ts'
import { authorized } from './rpc-token.ts'
import { hostAllowed } from './security-options.ts'
import { explainRpcError } from './start-errors.ts'
import { JOIN_EVENT_TYPES } from './join-progress.ts'
import { JOB_EVENT_TYPES } from './job-events.ts'
import { allowMethods, HttpError, parseJsonBody } from './http-error.ts'
import { MAX_DEFINITION_BYTES, routeServices } from './services-api.ts'
import { SERVICE_EVENT_TYPES } from './services.ts'
import { fireEvent, forceLeave, MAX_OPERATOR_BODY_BYTES, runQuery } from './operator-api.ts'
import { isUiPath, serveMetrics, serveUi, streamMonitor } from './observe-api.ts'
import { openEventStream } from './sse.ts'
import { HTTP_SERVER_OPTIONS } from './http-options.ts'
import { routeDropFrom } from './test-faults.ts'

export interface ControlApi {
  address: { host: string, port: number }
  close: () => Promise<void>
}

const EVENT_TYPES: AgentEventType[] = [...MEMBER_EVENT_TYPES, ...CLUSTER_EVENT_TYPES, ...JOIN_EVENT_TYPES, ...JOB_EVENT_TYPES, ...SERVICE_EVENT_TYPES, 'user:event']
/** Largest request body accepted. The API's bodies are small JSON documents. */
export const MAX_BODY_BYTES = 64 * 1024

/** With a `token`, every request must carry `Authorization: Bearer <token>` (401 otherwise). */
export async function startControlApi (agent: Agent, at: { host: string, port: number }, token?: string): Promise<ControlApi> {
  // The host as given (a name stays a name) and, once listening, the address it resolved to.
  const boundHosts = [at.host]
  const server = createServer(HTTP_SERVER_OPTIONS, (req, res) => {
    // URL.parse, not new URL(): a target like `//` is no URL, and a throw here would end the process.
    const path = URL.parse(req.url ?? '/', 'http://localhost')?.pathname
    const uiFile = req.method === 'GET' && path != null && isUiPath(path)
    if (token != null && !uiFile && !authorized(req.headers.authorization, token)) {
      res.setHeader('www-authenticate', 'Bearer')
      sendJson(res, 401, { error: 'missing or wrong token (Authorization: Bearer <token>)' })
      return
    }
    const refused = refusal(req, boundHosts)
    if (refused != null) {
      sendJson(res, refused.status, { error: refused.message })
      return
    }
    route(agent, req, res, path).catch((err: unknown) => {
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
  // Malformed HTTP, or a request head not complete within headersTimeout: answer
  // and close that socket (a client that never closes its side must not keep
  // it open); the server keeps serving.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) { socket.destroy(); return }
    const [status, reason, message] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'request not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'request headers too large']
        : [400, 'Bad Request', 'malformed HTTP request']
    const body = JSON.stringify({ error: message }) + '\n'
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      () => { socket.destroy() })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => { reject(explainRpcError(err, at.host, at.port)) })
    server.listen(at.port, at.host, () => { server.removeAllListeners('error'); resolve() })
  })
  const bound = server.address() as AddressInfo
  boundHosts.push(bound.address)
  return {
    address: { host: bound.address, port: bound.port },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/** The name in a `Host` header value (IPv6 without brackets; the port dropped); undefined if malformed. */
function hostName (value: string): string | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]@/\s]+))(?::\d{1,5})?$/.exec(value)
  return match == null ? undefined : match[1] ?? match[2]
}

/**
 * Why a request is refused before it is routed (403: not addressed to this
 * API, or sent by a web page; 415: a POST or DELETE that is not JSON), or undefined.
 */
export function refusal (req: Pick<IncomingMessage, 'method' | 'headers'>, boundHosts: readonly string[]): { status: number, message: string } | undefined {
  const host = req.headers.host
  const name = host == null ? undefined : hostName(host)
  if (host == null || name == null || !hostAllowed(name, boundHosts)) {
    return { status: 403, message: `Host ${JSON.stringify(host ?? null)} does not name this control API: call it by its address (${boundHosts[0]}), a loopback address or localhost` }
  }
  const origin = req.headers.origin
  // The CLI sends no Origin; a browser sends its page's, which is not this API's
  // unless it is the web view (/ui/), whose origin is http://<Host>.
  if (origin != null && origin.toLowerCase() !== `http://${host.toLowerCase()}`) {
    return { status: 403, message: `cross-origin request refused (Origin ${JSON.stringify(origin)}): the control API takes no requests from web pages` }
  }
  const method = req.method ?? 'GET'
  if (method === 'POST' || method === 'PUT' || method === 'DELETE') {
    const type = req.headers['content-type']
    if (type == null || !isJsonContentType(type)) {
      return { status: 415, message: `${method} needs content-type: application/json (got ${JSON.stringify(type ?? null)})` }
    }
  }
  return undefined
}

/** `application/json`, with no parameter but a UTF-8 charset: bodies are read as UTF-8. */
function isJsonContentType (value: string): boolean {
  const [type, ...params] = value.split(';').map(p => p.trim().toLowerCase())
  if (type !== 'application/json') return false
  return params.every(p => p === '' || /^charset="?utf-?8"?$/.test(p))
}

async function route (agent: Agent, req: IncomingMessage, res: ServerResponse, path: string | undefined): Promise<void> {
  if (path == null) throw new HttpError(400, 'the request target is not a path')
  const method = req.method ?? 'GET'
  const allow = (methods: string[]): void => { allowMethods(method, path, methods) }
  if (!agent.isRunning) throw new HttpError(503, 'the agent is not running')
  if (isUiPath(path)) {
    allow(['GET'])
    return await serveUi(path, res)
  }
  if (path.startsWith('/v1/services')) {
    const answer = await routeServices(agent, method, path, async () => await readBody(req, MAX_DEFINITION_BYTES))
    if (answer != null) return sendJson(res, answer.status, answer.json)
  }
  if (path.startsWith('/v1/jobs/')) {
    allow(['GET', 'DELETE'])
    const id = path.slice('/v1/jobs/'.length)
    if (!/^[0-9a-f]{1,64}$/.test(id)) throw new HttpError(400, `"${id.slice(0, 80)}" is not a job id`)
    if (method === 'DELETE') return await cancelJob(agent, req, res, id)
    const job = await agent.job(id)
    if (job == null) throw new HttpError(404, `no member knows job ${id}`)
    return sendJson(res, 200, job)
  }
  switch (path) {
    case '/v1/jobs':
      allow(['GET', 'POST'])
      if (method === 'GET') return sendJson(res, 200, await agent.jobs())
      return sendJson(res, 202, await submitJob(agent, await readBody(req, agent.options.work.maxInputBytes + MAX_BODY_BYTES)))
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
    case '/v1/monitor':
      allow(['GET'])
      return streamMonitor(agent, req, res)
    case '/metrics':
      allow(['GET'])
      return await serveMetrics(agent, res)
    case '/v1/event':
      allow(['POST'])
      return sendJson(res, 200, fireEvent(agent, await readBody(req, MAX_OPERATOR_BODY_BYTES)))
    case '/v1/query':
      allow(['POST'])
      return await runQuery(agent, await readBody(req, MAX_OPERATOR_BODY_BYTES), res)
    case '/v1/force-leave':
      allow(['POST'])
      return sendJson(res, 200, forceLeave(agent, await readBody(req)))
    case '/v1/test/drop-from': {
      const dropped = agent.options.droppedPeers
      if (dropped == null) throw new HttpError(404, `no such endpoint: ${path} (the agent was not started with --test-faults)`)
      allow(['GET', 'PUT'])
      return sendJson(res, 200, routeDropFrom(dropped, method, method === 'PUT' ? await readBody(req) : undefined))
    }
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

/**
 * `DELETE /v1/jobs/ID`: cancels the job wherever it is coordinated. 200 with
 * the job once it ended `cancelled`; 202 with it while the coordinator has
 * not confirmed yet; 409 with it if it had already ended; 404 if nobody knows it.
 */
async function cancelJob (agent: Agent, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  await readBody(req)
  const before = await agent.job(id)
  if (before == null) throw new HttpError(404, `no member knows job ${id}`)
  if (before.status !== 'running') return sendJson(res, 409, { error: `job ${id} already ended (${before.status})`, job: before })
  const job = await agent.cancel(id)
  if (job == null) throw new HttpError(404, `no member knows job ${id}`)
  return sendJson(res, job.status === 'running' ? 202 : 200, job)
}

/** `POST /v1/jobs`: a JSON object with a `workload` name, an optional `input` and an optional `deadlineMs`. */
/**
 * How long POST /v1/jobs waits for a replica to hold the job before it
 * answers: acceptance then means the job survives this agent's crash. A
 * replica answers in a round trip; past this bound (replicas failing or
 * starved) the answer says `held: false`.
 */
const HELD_WAIT_MS = 3000

async function submitJob (agent: Agent, body: string): Promise<{ id: string, held: boolean }> {
  const parsed = parseJsonBody(body)
  if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'body must be a JSON object {"workload", "input"}')
  const { workload, input, deadlineMs } = parsed as { workload?: unknown, input?: unknown, deadlineMs?: unknown }
  if (typeof workload !== 'string' || workload === '') throw new HttpError(400, '"workload" must be a non-empty string')
  if (deadlineMs != null && typeof deadlineMs !== 'number') throw new HttpError(400, '"deadlineMs" must be a number of milliseconds')
  let handle: JobHandle
  try {
    handle = agent.submit(workload, input ?? {}, deadlineMs != null ? { deadlineMs } : {})
  } catch (err) {
    if (err instanceof JobRejectedError) throw new HttpError(400, err.message)
    throw err
  }
  const held = await withTimeout(handle.held().then(() => true), HELD_WAIT_MS, () => false)
  return { id: handle.id, held }
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
  openEventStream(agent, req, res, send => {
    const unsubscribe = EVENT_TYPES.map(type => agent.on(type, payload => { send(`event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`) }))
    return () => { unsubscribe.forEach(off => off()) }
  })
}
