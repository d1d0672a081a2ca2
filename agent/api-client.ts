/**
 * The CLI's client of the control API: one JSON request, errors turned into
 * messages a user can act on.
 *
 * On node:http, not fetch: fetch refuses ports browsers block (6000, 6667,
 * …), so an agent started with `--rpc 127.0.0.1:6000` could not be reached
 * by its own CLI.
 */
import { request } from 'node:http'
import { DEFAULT_RPC, formatHost, parseHostPort } from './rpc-address.ts'
import { loadRpcToken } from './rpc-token.ts'

const TIMEOUT_MS = 10_000

/** Which agent to call: `rpc` HOST:PORT (default 127.0.0.1:7373), and the token file when the agent has one. */
export interface ApiTarget {
  rpc?: string
  tokenFile?: string
}

/** The agent answered with an error status. */
export class ApiError extends Error {
  override name = 'ApiError'
  readonly status: number
  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** The agent could not be reached at all (as opposed to answering with an error). */
export class UnreachableAgentError extends Error {
  override name = 'UnreachableAgentError'
}

/** Calls the control API; returns the parsed JSON answer or throws with a message for the user. */
export async function callApi (target: ApiTarget, method: string, path: string, body?: unknown, onLine?: (line: unknown) => void, timeoutMs = TIMEOUT_MS): Promise<unknown> {
  const { host, port } = parseHostPort(target.rpc ?? DEFAULT_RPC)
  const headers: Record<string, string> = target.tokenFile != null ? { authorization: `Bearer ${await loadRpcToken(target.tokenFile)}` } : {}
  // The API refuses a POST or DELETE without it (415), body or not: a
  // browser cannot send it cross-site without a CORS preflight, which the API never grants.
  if (body !== undefined || (method !== 'GET' && method !== 'HEAD')) headers['content-type'] = 'application/json'
  let status: number
  let text: string
  try {
    ({ status, text } = await send({ host, port, method, path, headers, body: body !== undefined ? JSON.stringify(body) : undefined, onLine, timeoutMs }))
  } catch (err) {
    throw new UnreachableAgentError(`cannot reach the control API at ${formatHost(host)}:${port} (is the agent running?): ${(err as Error).message}`)
  }
  let answer: any
  try {
    answer = JSON.parse(onLine != null && status === 200 ? text.trim().split('\n').at(-1) ?? '' : text)
  } catch {}
  if (status < 200 || status > 299) throw new ApiError(status, `control API answered ${status}: ${answer?.error ?? (text.slice(0, 200) || 'no body')}`)
  return answer
}

interface Request {
  host: string
  port: number
  method: string
  path: string
  headers: Record<string, string>
  body?: string
  /** A streamed answer (NDJSON, status 200): each line as it arrives; the last one is also returned. */
  onLine?: (line: unknown) => void
  timeoutMs: number
}

function send (req: Request): Promise<{ status: number, text: string }> {
  return new Promise((resolve, reject) => {
    const call = request({ host: req.host, port: req.port, method: req.method, path: req.path, headers: req.headers, timeout: req.timeoutMs }, res => {
      const chunks: Buffer[] = []
      let partial = ''
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
        if (req.onLine == null || res.statusCode !== 200) return
        const lines = (partial + chunk.toString('utf8')).split('\n')
        partial = lines.pop() ?? ''
        for (const line of lines) if (line.trim() !== '') req.onLine(JSON.parse(line))
      })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    call.on('timeout', () => { call.destroy(new Error(`no answer within ${req.timeoutMs / 1000} s`)) })
    call.on('error', reject)
    call.end(req.body)
  })
}
