/**
 * The control API against what a web page, a DNS-rebinding page, a slow
 * client or a careless command line would do, on real agents started through
 * the CLI: cross-origin and foreign-Host requests are refused (403), a POST
 * that is not JSON is refused (415), a client that never finishes its headers
 * is dropped, loopback in any spelling needs no token, `--allow-exec` needs a
 * cluster key; and the CLI keeps working.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'
import { killAll, membersViaApi, rpcTokenFixture, runCli, startAgent, type AgentProcess } from './harness.ts'

interface Answer { status: number, body: { error?: string } & Record<string, unknown> }

/** One request with exactly these headers (node:http, unlike fetch, lets `Host` be set, as a rebinding browser would send it). */
async function send (rpc: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const at = rpc.lastIndexOf(':')
  return await new Promise((resolve, reject) => {
    const req = request({ host: rpc.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(rpc.slice(at + 1)), method, path, headers, timeout: 10_000 }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => { resolve({ status: res.statusCode!, body: JSON.parse(text) }) })
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.end(body)
  })
}

/**
 * The agent did not act on the refused requests before this one: it is
 * running, and its own record is alive. A leave it had taken would show here
 * as `left`: the API starts the leave on the turn after answering it, so
 * before it reads a next request (agent/control-api.ts).
 */
async function stillRunning (agent: AgentProcess, headers: Record<string, string> = {}): Promise<void> {
  assert.equal(agent.child.exitCode, null, 'the agent is still running')
  const self = await send(agent.rpc, 'GET', '/v1/self', { host: agent.rpc, ...headers })
  assert.equal(self.status, 200)
  assert.equal(self.body.status, 'alive', 'the agent did not leave')
}

describe('control API: cross-origin, content type, slow clients, options', () => {
  const agents: AgentProcess[] = []
  let dir = ''
  let tokenFile = ''
  let token = ''
  let removeToken = async (): Promise<void> => {}

  before(async () => {
    ({ dir, tokenFile, token, remove: removeToken } = await rpcTokenFixture('control-api-'))
  })
  after(async () => {
    await killAll(agents)
    await removeToken()
  })

  it('a loopback agent refuses foreign Origin, foreign Host and non-JSON POSTs; the CLI still works', async () => {
    const agent = await startAgent({ name: 'origin1' })
    agents.push(agent)
    const host = agent.rpc
    const json = { 'content-type': 'application/json' }

    // A page on another site: a form POST (no preflight needed) and a fetch() with JSON.
    const form = await send(agent.rpc, 'POST', '/v1/leave', { host, origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, 'a=1')
    assert.equal(form.status, 403)
    assert.match(form.body.error!, /cross-origin request refused/)
    assert.equal((await send(agent.rpc, 'POST', '/v1/leave', { host, origin: 'http://evil.example', ...json }, '{}')).status, 403)
    assert.equal((await send(agent.rpc, 'POST', '/v1/leave', { host, origin: 'null', ...json }, '{}')).status, 403, 'a sandboxed page sends Origin: null')
    assert.equal((await send(agent.rpc, 'POST', '/v1/jobs', { host, origin: 'http://localhost:8080', ...json }, '{"workload":"sleep","input":{"tasks":1,"ms":1}}')).status, 403,
      'another local port is another origin')
    await stillRunning(agent)

    // DNS rebinding: evil.example now resolves to 127.0.0.1, so the page is "same-origin" and sends no Origin; its Host is evil.example.
    const rebound = await send(agent.rpc, 'POST', '/v1/leave', { host: `evil.example:${host.split(':')[1]}`, ...json }, '{}')
    assert.equal(rebound.status, 403)
    assert.match(rebound.body.error!, /does not name this control API/)
    assert.equal((await send(agent.rpc, 'GET', '/v1/members', { host: 'evil.example' })).status, 403, 'nor may it read')
    await stillRunning(agent)

    // POST without content-type, or with a form's: 415.
    const bare = await send(agent.rpc, 'POST', '/v1/leave', { host })
    assert.equal(bare.status, 415)
    assert.match(bare.body.error!, /content-type: application\/json/)
    assert.equal((await send(agent.rpc, 'POST', '/v1/leave', { host, 'content-type': 'text/plain' }, '{}')).status, 415)
    assert.equal((await send(agent.rpc, 'POST', '/v1/jobs', { host, 'content-type': 'text/plain' }, '{"workload":"sleep","input":{"tasks":1,"ms":1}}')).status, 415)
    assert.equal((await send(agent.rpc, 'DELETE', '/v1/jobs/0123456789abcdef', { host })).status, 415, 'DELETE too, whatever the route')
    await stillRunning(agent)

    // The names the API goes by are accepted.
    const port = host.split(':')[1]
    for (const name of [`localhost:${port}`, 'localhost', `127.1:${port}`, `[::1]:${port}`]) {
      assert.equal((await send(agent.rpc, 'GET', '/v1/self', { host: name })).status, 200, name)
    }

    // The CLI: members, submit, leave.
    const members = await runCli(['members', '--rpc', agent.rpc])
    assert.equal(members.code, 0, members.stderr)
    assert.match(members.stdout, /origin1/)
    const submit = await runCli(['submit', 'sleep', '--input', '{"tasks":2,"ms":1}', '--json', '--rpc', agent.rpc])
    assert.equal(submit.code, 0, submit.stderr)
    assert.equal((JSON.parse(submit.stdout) as { result: unknown }).result, 2)
    const leave = await runCli(['leave', '--rpc', agent.rpc])
    assert.equal(leave.code, 0, leave.stderr)
    assert.equal(await agent.exited, 0)
  })

  it('with a token, the same refusals still apply to requests that carry it', async () => {
    const agent = await startAgent({ name: 'origin2', extraArgs: ['--rpc', '0.0.0.0:0', '--rpc-token', tokenFile] })
    agents.push(agent)
    const port = agent.rpc.split(':').at(-1)!
    const rpc = `127.0.0.1:${port}`
    const auth = { authorization: `Bearer ${token}` }
    const json = { 'content-type': 'application/json' }
    assert.equal((await send(rpc, 'POST', '/v1/leave', { host: 'evil.example', ...auth, ...json }, '{}')).status, 403)
    assert.equal((await send(rpc, 'POST', '/v1/leave', { host: rpc, origin: 'http://evil.example', ...auth, ...json }, '{}')).status, 403)
    assert.equal((await send(rpc, 'POST', '/v1/leave', { host: rpc, ...auth })).status, 415)
    assert.equal((await send(rpc, 'POST', '/v1/leave', { host: 'evil.example' })).status, 401, 'without the token: 401 first, nothing else revealed')
    await stillRunning({ ...agent, rpc }, auth)
    // Bound to all interfaces, any address of this host names it.
    assert.equal((await send(rpc, 'GET', '/v1/self', { host: `10.1.2.3:${port}`, ...auth })).status, 200)
    const members = await runCli(['members', '--rpc', rpc, '--rpc-token', tokenFile])
    assert.equal(members.code, 0, members.stderr)
  })

  it('a client that never finishes its request line is answered 408 and dropped (the header timeout)', async (t) => {
    const agent = await startAgent({ name: 'slow1' })
    agents.push(agent)
    const [host, port] = agent.rpc.split(':')
    const started = performance.now()
    let answer = ''
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const socket = connect(Number(port), host, () => { socket.write('GET /v1/members HTT') })
      socket.setEncoding('utf8')
      socket.on('data', (d: string) => { answer += d })
      socket.on('error', () => {})
      socket.on('close', () => { resolve(performance.now() - started) })
      setTimeout(() => { socket.destroy(); reject(new Error(`still open after 20 s (answer so far: ${JSON.stringify(answer)})`)) }, 20_000).unref()
    })
    t.diagnostic(`closed after ${Math.round(closedAfter)} ms`)
    assert.match(answer, /^HTTP\/1\.1 408 /)
    assert.equal((await membersViaApi(agent)).length, 1, 'the agent still serves')
  })

  it('--rpc 127.1 and [::ffff:7f00:1] are loopback: no token needed, and the CLI reaches them', async (t) => {
    const short = await startAgent({ name: 'short1', extraArgs: ['--rpc', '127.1:0'] })
    agents.push(short)
    assert.match(short.rpc, /^127\.0\.0\.1:\d+$/)
    assert.equal((await runCli(['members', '--rpc', short.rpc])).code, 0)
    const ipv6 = await new Promise<boolean>(resolve => {
      const probe = createServer().once('error', () => resolve(false)).listen(0, '::ffff:7f00:1', () => { probe.close(() => resolve(true)) })
    })
    if (!ipv6) { t.skip('no IPv6 sockets here'); return }
    const mapped = await startAgent({ name: 'mapped1', extraArgs: ['--rpc', '[::ffff:7f00:1]:0'] })
    agents.push(mapped)
    const members = await runCli(['members', '--json', '--rpc', mapped.rpc])
    assert.equal(members.code, 0, members.stderr)
    assert.equal((JSON.parse(members.stdout) as unknown[]).length, 1)
  })

  it('--allow-exec without a cluster key is refused, naming both flags; --allow-exec-open or a key starts', async () => {
    const refused = await runCli(['--allow-exec', '--rpc', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0'])
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /--allow-exec \(allowExec\) needs a cluster key \(--cluster-key FILE\)/)
    assert.match(refused.stderr, /--allow-exec-open/)
    const keyFile = join(dir, 'cluster.key')
    assert.equal((await runCli(['keygen', keyFile])).code, 0)
    const keyed = await startAgent({ name: 'exec-keyed', extraArgs: ['--allow-exec', '--cluster-key', keyFile] })
    agents.push(keyed)
    const open = await startAgent({ name: 'exec-open', extraArgs: ['--allow-exec-open'] })
    agents.push(open)
    for (const agent of [keyed, open]) {
      const list = await runCli(['workloads', '--json', '--rpc', agent.rpc])
      assert.ok((JSON.parse(list.stdout) as Array<{ name: string }>).some(w => w.name === 'exec'), agent.name)
    }
  })
})
