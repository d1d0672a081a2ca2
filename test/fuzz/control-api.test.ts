/**
 * Fuzz of the control API over real HTTP against an in-process agent:
 * random and mutated methods, paths, query strings, headers and bodies (JSON
 * documents and their mutations, binary junk), and raw malformed HTTP on a
 * socket. Rules: every answer is a documented status (never 500), with a JSON
 * error body for 4xx; the agent keeps serving; a token-protected agent
 * answers 401 to every request without the exact token.
 *
 * `POST /v1/jobs` with valid or mutated bodies starts real (small) jobs: the
 * submit path is fuzzed end to end.
 *
 * Not sent: an accepted `POST /v1/leave` (it would stop the agent) and
 * `GET /v1/events` (a stream that does not end). A `POST /v1/leave` that must
 * be refused (a web page's `Origin`, or not `content-type: application/json`)
 * is sent, and must answer 403 or 415 and leave the agent running.
 * FUZZ_TRACE=<file> appends every request to the file; FUZZ_HTTP_PARALLEL
 * sets the concurrency (default 16).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { appendFileSync } from 'node:fs'
import { createAgent, type Agent } from '../../agent/agent.ts'
import { isUiPath } from '../../agent/observe-api.ts'
import { mutate, runFuzz, FUZZ_CASES, type Rng } from './fuzz.ts'

const PATHS = ['/v1/members', '/v1/self', '/v1/stats', '/v1/health', '/v1/jobs', '/v1/jobs/abc', '/', '/v1', '/v1/members/', '/v2/members', '//v1/members', '/v1/%00', '/v1/leave',
  '/metrics', '/ui/', '/ui', '/ui/app.js', '/ui/style.css', '/v1/force-leave', '/v1/test/drop-from']
/** Request targets `new URL()` cannot parse: answered, never a crash (one once ended the process). */
const UNPARSABLE_TARGETS = ['//', '//[', 'http://[', '//a b']
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'get', 'BREW']
const BODIES = ['{}', '{"workload":"echo","input":{}}', '{"workload":"sleep","input":{"tasks":1,"ms":1}}', '[1,2,3]', 'null', '"x"', '{"a":{"b":{"c":[{"d":null}]}}}', '{"peers":["p1","p2"]}', '']
const ALLOWED = new Set([200, 202, 204, 400, 401, 403, 404, 405, 413, 415, 422, 503])
/** What a web page's fetch or form sends: never the API's own origin. */
const FOREIGN_ORIGINS = ['http://evil.example', 'null', 'http://localhost:1', 'https://127.0.0.1', 'http://127.0.0.1.evil.example']
/** Concurrent requests: HTTP round trips dominate, not the agent. */
const PARALLEL = Number(process.env.FUZZ_HTTP_PARALLEL ?? 16)

function randomRequest (rng: Rng): { method: string, path: string, headers: Record<string, string>, body?: Uint8Array, refused?: number[] } {
  const enc = new TextEncoder()
  const text = (s: string): string => new TextDecoder().decode(mutate(rng, enc.encode(s), [enc.encode(s)]))
  let method = rng.pick(METHODS)
  let path = rng.next() < 0.7 ? rng.pick(PATHS) : text(rng.pick(PATHS))
  if (rng.next() < 0.2) path += `?${text('a=1&b=%zz')}`
  // Keep the path a valid request target; the raw-socket cases cover invalid ones.
  path = '/' + encodeURI(path.replace(/^\/+/, '')).replace(/%25/g, '%')
  // fetch cannot send HEAD bodies nor lower-case or unknown methods reliably: normalise first.
  if (method === 'HEAD' || method === 'get' || method === 'BREW') method = rng.pick(['GET', 'POST'])
  const headers: Record<string, string> = {}
  if (rng.next() < 0.5) headers['content-type'] = rng.pick(['application/json', 'text/plain', 'application/octet-stream', 'application/json; charset=utf-16'])
  if (rng.next() < 0.15) headers.origin = rng.pick(FOREIGN_ORIGINS)
  // A foreign Origin is refused (403) before anything else; then a POST or DELETE that is not JSON (415).
  const refused = headers.origin != null ? [403] : (method === 'POST' || method === 'PUT' || method === 'DELETE') && headers['content-type'] !== 'application/json' ? [415] : undefined
  if ((method === 'POST' && path.startsWith('/v1/leave') && refused == null) || path.startsWith('/v1/events')) path = '/v1/health'
  let body: Uint8Array | undefined
  if (method !== 'GET' && rng.next() < 0.8) {
    const doc = enc.encode(rng.pick(BODIES))
    body = rng.next() < 0.3 ? rng.bytes(rng.int(512)) : rng.next() < 0.5 ? doc : mutate(rng, doc, BODIES.map(b => enc.encode(b)))
  }
  return { method, path, headers, body, refused }
}

async function check (base: string, req: ReturnType<typeof randomRequest>, expect?: number): Promise<void> {
  let res: Response
  if (process.env.FUZZ_TRACE != null) appendFileSync(process.env.FUZZ_TRACE, `${req.method} ${req.path} ${JSON.stringify(req.headers)} ${req.body == null ? "-" : Buffer.from(req.body).toString("hex").slice(0, 80)}\n`)
  try {
    res = await fetch(base + req.path, { method: req.method, headers: req.headers, body: req.body == null ? undefined : Buffer.from(req.body), signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    throw new Error(`${req.method} ${req.path} ${JSON.stringify(req.headers)} body ${req.body?.byteLength ?? 'none'}: ${(err as Error).message} (${((err as Error).cause as Error)?.message})`)
  }
  const text = await res.text()
  assert.ok(ALLOWED.has(res.status), `${req.method} ${req.path} answered ${res.status}: ${text.slice(0, 200)}`)
  if (expect != null) assert.equal(res.status, expect, `${req.method} ${req.path}`)
  else if (req.refused != null) assert.ok(req.refused.includes(res.status), `${req.method} ${req.path} ${JSON.stringify(req.headers)} answered ${res.status}, not ${req.refused.join(' or ')}`)
  if (res.status >= 400) assert.equal(typeof (JSON.parse(text) as { error: unknown }).error, 'string')
}

async function rawGarbage (host: string, port: number, payload: Uint8Array): Promise<void> {
  await new Promise<void>((resolve) => {
    const socket = connect(port, host, () => { socket.end(payload) })
    socket.setTimeout(5000, () => socket.destroy())
    socket.resume()
    socket.on('error', () => resolve())
    socket.on('close', () => resolve())
  })
}

/** Runs FUZZ_CASES requests, PARALLEL at a time, each drawn from its own case of the seeded stream. */
async function fuzzHttp (name: string, agent: Agent, headersFor: (rng: Rng) => Record<string, string>, auth: Record<string, string>, expect?: number): Promise<void> {
  const { host, port } = agent.rpcAddress!
  const base = `http://${host}:${port}`
  let batch: Array<Promise<void>> = []
  await runFuzz(name, async (rng, i) => {
    if (i % 100 === 99) {
      const raw = new TextEncoder().encode(`${rng.pick(METHODS)} /v1/members HTTP/1.1\r\nHost: x\r\n\r\n`)
      batch.push(rawGarbage(host, port, mutate(rng, raw, [raw])))
    } else {
      const req = randomRequest(rng)
      req.headers = { ...req.headers, ...headersFor(rng) }
      // The web view's files are served without a token (they hold no data); fetch
      // sends the path without its query and without a fragment (a mutated '#').
      batch.push(check(base, req, req.method === 'GET' && isUiPath(req.path.split(/[?#]/)[0]) ? undefined : expect))
    }
    if (batch.length >= PARALLEL) { const b = batch; batch = []; await Promise.all(b) }
  }, Math.min(FUZZ_CASES, 100_000))
  await Promise.all(batch)
  for (const target of UNPARSABLE_TARGETS) await rawGarbage(host, port, new TextEncoder().encode(`GET ${target} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`))
  // Still serving.
  const health = await fetch(`${base}/v1/health`, { headers: auth, signal: AbortSignal.timeout(5000) })
  assert.equal(health.status, 200)
}

describe('fuzz: control API requests', () => {
  let open: Agent
  let locked: Agent
  const token = 'fuzz-token-0123456789abcdef'

  before(async () => {
    // Mutated job bodies do start real jobs: keep each one small (bigger ones answer 400).
    open = createAgent({ name: 'fuzz-open', listen: ['/ip4/127.0.0.1/tcp/0'], rpc: '127.0.0.1:0', work: { maxTasksPerJob: 64 }, testFaults: true })
    locked = createAgent({ name: 'fuzz-locked', listen: ['/ip4/127.0.0.1/tcp/0'], rpc: '127.0.0.1:0', rpcToken: { token } })
    await Promise.all([open.start(), locked.start()])
  })
  after(async () => { await Promise.all([open?.stop(), locked?.stop()]) })

  it('open API: documented statuses only, JSON errors, still serving', async () => {
    await fuzzHttp('control-api', open, () => ({}), {})
    assert.ok(open.isRunning)
  })

  it('token-protected API: 401 for every request without the exact token', async () => {
    const enc = new TextEncoder()
    const good = enc.encode(`Bearer ${token}`)
    await fuzzHttp('control-api-token', locked, (rng): Record<string, string> => {
      // Header values must be ByteStrings without CR/LF for fetch to send them.
      const value = new TextDecoder().decode(mutate(rng, good, [good])).replace(/[^\x20-\x7e]/g, '')
      if (/^Bearer +(\S+) *$/i.exec(value.trim())?.[1] === token) return {}
      return rng.next() < 0.2 ? {} : { authorization: value }
    }, { authorization: `Bearer ${token}` }, 401)
    assert.ok(locked.isRunning)
  })
})
