/** agent/service-checks.ts: each kind of check against local servers and commands, healthy, failing, timing out and aborted. */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net'
import { runCheck } from '../../agent/service-checks.ts'

async function listen<S extends Server | HttpServer> (server: S, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => { resolve() })
  })
  return (server.address() as AddressInfo).port
}

/** A port nothing listens on: one just given up. */
async function closedPort (): Promise<number> {
  const server = createTcpServer()
  const port = await listen(server)
  await new Promise(resolve => { server.close(resolve) })
  return port
}

describe('service checks: http', () => {
  const server = createHttpServer((req, res) => {
    if (req.url === '/hang') return // never answers
    const status = Number(req.url?.slice(1))
    res.writeHead(status, status === 302 ? { location: 'http://127.0.0.1:1/elsewhere' } : {})
    res.end('body')
  })
  let base = ''
  before(async () => { base = `http://127.0.0.1:${await listen(server)}` })
  after(() => { server.closeAllConnections(); server.close() })

  it('is healthy for 200 and for a redirect (not followed), unhealthy for 500', async () => {
    assert.deepEqual(await runCheck({ http: `${base}/200`, timeoutMs: 2000 }), { ok: true, detail: 'HTTP 200' })
    assert.deepEqual(await runCheck({ http: `${base}/302`, timeoutMs: 2000 }), { ok: true, detail: 'HTTP 302' })
    assert.deepEqual(await runCheck({ http: `${base}/500`, timeoutMs: 2000 }), { ok: false, detail: 'HTTP 500' })
  })

  it('fails on a server that does not answer within timeoutMs, or a refused connection, or a bad URL', async () => {
    assert.deepEqual(await runCheck({ http: `${base}/hang`, timeoutMs: 200 }), { ok: false, detail: 'timed out after 200 ms' })
    const refused = await runCheck({ http: `http://127.0.0.1:${await closedPort()}/`, timeoutMs: 2000 })
    assert.equal(refused.ok, false)
    assert.match(refused.detail, /ECONNREFUSED/)
    const bad = await runCheck({ http: 'not a url', timeoutMs: 2000 })
    assert.equal(bad.ok, false)
    assert.doesNotMatch(bad.detail, /\n/)
  })

  it('ends early, as aborted, when the caller aborts', async () => {
    const stop = new AbortController()
    setTimeout(() => { stop.abort() }, 50)
    assert.deepEqual(await runCheck({ http: `${base}/hang`, timeoutMs: 10_000 }, stop.signal), { ok: false, detail: 'aborted' })
  })
})

describe('service checks: tcp', () => {
  const server = createTcpServer(socket => { socket.destroy() })
  let port = 0
  before(async () => { port = await listen(server) })
  after(() => { server.close() })

  it('is healthy when HOST:PORT accepts a connection, unhealthy when refused', async () => {
    assert.deepEqual(await runCheck({ tcp: `127.0.0.1:${port}`, timeoutMs: 2000 }), { ok: true, detail: `connected to 127.0.0.1:${port}` })
    const refused = await runCheck({ tcp: `127.0.0.1:${await closedPort()}`, timeoutMs: 2000 })
    assert.equal(refused.ok, false)
    assert.match(refused.detail, /ECONNREFUSED/)
  })

  it('takes IPv6 as [::1]:PORT', async (t) => {
    const v6 = createTcpServer(socket => { socket.destroy() })
    let v6port: number
    try {
      v6port = await listen(v6, '::1')
    } catch {
      t.skip('no IPv6 loopback here')
      return
    }
    try {
      assert.equal((await runCheck({ tcp: `[::1]:${v6port}`, timeoutMs: 2000 })).ok, true)
    } finally {
      v6.close()
    }
  })

  it('fails on an address that is not HOST:PORT, and when the caller aborts first', async () => {
    const bad = await runCheck({ tcp: 'localhost', timeoutMs: 2000 })
    assert.equal(bad.ok, false)
    assert.match(bad.detail, /HOST:PORT/)
    assert.deepEqual(await runCheck({ tcp: `127.0.0.1:${port}`, timeoutMs: 2000 }, AbortSignal.abort()), { ok: false, detail: 'aborted' })
  })
})

describe('service checks: command', () => {
  it('is healthy on exit 0, unhealthy otherwise, with the last stderr line in the detail', async () => {
    assert.deepEqual(await runCheck({ command: ['true'], timeoutMs: 2000 }), { ok: true, detail: 'exit 0' })
    assert.deepEqual(await runCheck({ command: ['sh', '-c', 'echo first >&2; echo "not ready" >&2; exit 3'], timeoutMs: 2000 }),
      { ok: false, detail: 'exit 3: not ready' })
  })

  it('runs no shell: an argv that names no program fails with ENOENT', async () => {
    const res = await runCheck({ command: ['true && false'], timeoutMs: 2000 })
    assert.equal(res.ok, false)
    assert.match(res.detail, /ENOENT/)
    assert.deepEqual(await runCheck({ command: [], timeoutMs: 2000 }), { ok: false, detail: 'empty command' })
  })

  it('kills a command past timeoutMs, with what it forked, and answers at the timeout', async () => {
    const started = performance.now()
    // the background sleep holds stderr open: only killing the whole group lets the check end
    const res = await runCheck({ command: ['sh', '-c', 'sleep 30 & sleep 30'], timeoutMs: 300 })
    assert.deepEqual(res, { ok: false, detail: 'timed out after 300 ms' })
    assert.ok(performance.now() - started < 2000)
  })

  it('answers without a check, never throwing', async () => {
    assert.deepEqual(await runCheck({ timeoutMs: 1000 }), { ok: false, detail: 'no check given (http, tcp or command)' })
    assert.equal((await runCheck({ command: ['true'], timeoutMs: -1 })).ok, false)
  })
})
