/**
 * The control API token: an agent refuses to bind the API off loopback
 * without one; with one, every request needs `Authorization: Bearer <token>`
 * and the CLI subcommands send it with --rpc-token FILE.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { killAll, rpcTokenFixture, runCli, startAgent, type AgentProcess } from './harness.ts'

describe('control API token', () => {
  let agents: AgentProcess[] = []
  let tokenFile = ''
  let token = ''
  let removeToken = async (): Promise<void> => {}

  before(async () => {
    ({ tokenFile, token, remove: removeToken } = await rpcTokenFixture('rpc-token-'))
  })
  after(async () => {
    await killAll(agents)
    await removeToken()
  })

  it('`agent keygen --rpc-token FILE` writes a 0600 token', async () => {
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600)
    assert.match(token, /^[A-Za-z0-9_-]{43}$/)
  })

  it('binding the API to a non-loopback address without a token is refused with a clear error', async () => {
    const { code, stderr } = await runCli(['--rpc', '0.0.0.0:0', '--listen', '/ip4/127.0.0.1/tcp/0'])
    assert.equal(code, 2)
    assert.match(stderr, /reachable from other hosts: give it a token \(--rpc-token FILE\)/)
  })

  it('with a token: 401 without or with a wrong one, 200 with it; the CLI passes it', async () => {
    const agent = await startAgent({ name: 't1', extraArgs: ['--rpc-token', tokenFile] })
    agents.push(agent)
    const url = `http://${agent.rpc}/v1/members`
    const status = async (headers: Record<string, string>, method = 'GET', path = '/v1/members'): Promise<number> =>
      (await fetch(`http://${agent.rpc}${path}`, { method, headers })).status
    assert.equal(await status({}), 401)
    assert.equal(await status({ authorization: `Bearer ${token}x` }), 401)
    assert.equal(await status({ authorization: `Bearer ${token.slice(0, -1)}` }), 401)
    assert.equal(await status({ authorization: token }), 401)
    assert.equal(await status({ authorization: `Basic ${token}` }), 401)
    assert.equal(await status({}, 'POST', '/v1/leave'), 401, 'no leave without the token')
    assert.equal(await status({}, 'GET', '/v1/nope'), 401, 'unknown paths too: nothing is revealed')
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(res.status, 200)
    assert.equal((await res.json() as unknown[]).length, 1)

    const denied = await runCli(['members', '--rpc', agent.rpc])
    assert.equal(denied.code, 1)
    assert.match(denied.stderr, /401/)
    const members = await runCli(['members', '--json', '--rpc', agent.rpc, '--rpc-token', tokenFile])
    assert.equal(members.code, 0, members.stderr)
    assert.equal((JSON.parse(members.stdout) as Array<{ peerId: string }>)[0].peerId, agent.peerId)
    const leave = await runCli(['leave', '--rpc', agent.rpc, '--rpc-token', tokenFile])
    assert.equal(leave.code, 0, leave.stderr)
    assert.equal(await agent.exited, 0)
  })

  it('the API may listen off loopback once it has a token', async () => {
    const agent = await startAgent({ name: 't2', extraArgs: ['--rpc', '0.0.0.0:0', '--rpc-token', tokenFile] })
    agents.push(agent)
    const port = agent.rpc.split(':').at(-1)
    const res = await fetch(`http://127.0.0.1:${port}/v1/self`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(res.status, 200)
  })
})
