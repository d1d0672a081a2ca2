/**
 * Five real agent processes on loopback, driven through the CLI: convergence,
 * crash, freeze and resume, graceful leave, and garbage on every interface.
 * The cluster is the test kit's (mode `processes`), as a user's would be.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNode, SWIM_PROTOCOL } from '../../gossip/index.ts'
import { createTestCluster, type ProcessesTestCluster } from '../../testkit/index.ts'
import { membersViaApi, membersViaCli, runCli, waitFor, type AgentProcess } from './harness.ts'

/** Generous bounds: these tests check behaviour; the benchmarks measure speed. */
const CONVERGE_MS = 15_000
const DETECT_MS = 30_000

/** Until every agent in `observers` sees agent `member` with `status`. */
async function allSee (cluster: ProcessesTestCluster, observers: number[], member: number, status: 'failed' | 'left', timeoutMs: number): Promise<void> {
  for (const o of observers) await cluster.memberIs(o, member, status, undefined, { timeoutMs })
}

describe('agent cluster: 5 processes on loopback (lan profile)', () => {
  let cluster: ProcessesTestCluster
  let agents: AgentProcess[] = []

  before(async () => {
    // TCP (the kit's) and WebSockets.
    cluster = await createTestCluster({ size: 5, mode: 'processes', profile: 'lan', agentArgs: ['--listen', '/ip4/127.0.0.1/tcp/0/ws'] })
    agents = Array.from({ length: 5 }, (_, i) => cluster.process(i))
  })
  after(async () => { await cluster?.stop() })

  it('converges: every agent lists all five alive via `agent members --json`', async () => {
    await cluster.converged({ timeoutMs: CONVERGE_MS })
    for (const agent of agents) {
      const members = await membersViaCli(agent)
      assert.equal(members.length, 5, `${agent.name} lists ${members.length} members`)
      for (const m of members) {
        assert.equal(m.status, 'alive')
        for (const field of ['name', 'peerId', 'status', 'addrs', 'incarnation', 'tags'] as const) {
          assert.ok(field in m, `member JSON has ${field}`)
        }
        assert.ok(m.addrs.length >= 2, 'TCP and WebSocket addresses are announced')
      }
      assert.deepEqual(members.map(m => m.name).sort(), agents.map(a => a.name).sort())
    }
  })

  it('`agent members` prints a table with every member that fits 100 columns; --wide shows every column', async () => {
    const { code, stdout } = await runCli(['members', '--rpc', agents[0].rpc])
    assert.equal(code, 0)
    assert.match(stdout, /^NAME\s+ID\s+STATUS\s+CAUSE\s+ADDRESS\s+PATHS$/m)
    for (const a of agents) assert.match(stdout, new RegExp(`${a.name}\\s+${a.peerId.slice(-8)}\\s+alive\\s+-`))
    for (const line of stdout.trimEnd().split('\n')) assert.ok(line.length <= 100, `${line.length} columns: ${line}`)
    const wide = await runCli(['members', '--wide', '--rpc', agents[0].rpc])
    assert.match(wide.stdout, /^NAME\s+PEER ID\s+STATUS\s+CAUSE\s+INC\s+ADDRESSES\s+PATHS\s+TAGS$/m)
    for (const a of agents) assert.match(wide.stdout, new RegExp(`${a.name}\\s+${a.peerId}\\s+alive`))
  })

  it('survives garbage on the SWIM protocol, the libp2p port and the control API, and keeps answering', async () => {
    const target = agents[0]
    // 1. Raw bytes at the libp2p TCP port, before any handshake.
    const components = multiaddr(target.multiaddrs[0]).getComponents()
    const tcp = { host: components.find(c => c.name === 'ip4')!.value!, port: Number(components.find(c => c.name === 'tcp')!.value) }
    await new Promise<void>((resolve) => {
      const socket = connect(tcp.port, tcp.host, () => {
        socket.end(Buffer.from('\x00\xff garbage \r\n\r\n'.repeat(100)))
      })
      socket.resume() // read (and discard) the answer so that the socket can end
      socket.on('error', () => resolve())
      socket.on('close', () => resolve())
    })
    // 2. A real libp2p peer speaking nonsense on the SWIM protocol: bad frames, an oversized length prefix.
    const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      for (const payload of [
        new Uint8Array([5, 1, 2, 3, 4, 5]),
        new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]),
        crypto.getRandomValues(new Uint8Array(4096))
      ]) {
        const stream = await node.dialProtocol(multiaddr(target.multiaddrs[0]), SWIM_PROTOCOL)
        stream.send(payload)
        await stream.close().catch(() => {})
      }
    } finally {
      await node.stop()
    }
    // 3. Malformed HTTP, unknown endpoints, wrong methods, an oversized body.
    await new Promise<void>((resolve) => {
      const [host, port] = target.rpc.split(':')
      const socket = connect(Number(port), host, () => { socket.end('NOT HTTP AT ALL\r\n\r\n') })
      socket.resume() // read (and discard) the answer so that the socket can end
      socket.on('error', () => resolve())
      socket.on('close', () => resolve())
    })
    const notFound = await fetch(`http://${target.rpc}/v1/nope`, { signal: AbortSignal.timeout(5000) })
    assert.equal(notFound.status, 404)
    assert.match((await notFound.json() as { error: string }).error, /no such endpoint/)
    const wrongMethod = await fetch(`http://${target.rpc}/v1/members`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(5000) })
    assert.equal(wrongMethod.status, 405)
    const tooBig = await fetch(`http://${target.rpc}/v1/leave`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(200_000), signal: AbortSignal.timeout(5000) }).catch(() => undefined)
    assert.ok(tooBig == null || tooBig.status === 413, `oversized body refused (got ${tooBig?.status})`)

    // Still running, still answering, still a member of a healthy cluster.
    assert.equal(target.child.exitCode, null, 'the agent is still running')
    await cluster.converged({ timeoutMs: CONVERGE_MS })
    const stats = await (await fetch(`http://${target.rpc}/v1/stats`, { signal: AbortSignal.timeout(5000) })).json() as { transport: { dropped: Record<string, number> } }
    const drops = Object.values(stats.transport.dropped).reduce((a, b) => a + b, 0)
    assert.ok(drops >= 1, `garbage is counted as dropped (${JSON.stringify(stats.transport.dropped)})`)
  })

  it('kill -STOP: the frozen agent is failed everywhere; kill -CONT: alive everywhere again', async () => {
    await cluster.freeze(4)
    try {
      await allSee(cluster, [0, 1, 2, 3], 4, 'failed', DETECT_MS)
    } finally {
      await cluster.resume(4)
    }
    await cluster.converged({ timeoutMs: DETECT_MS })
  })

  it('kill -9: every other agent shows the killed one failed (cause crash), and GET /v1/events streams it', async () => {
    const victim = agents[3]
    const since = cluster.now()
    await cluster.crash(3)
    await allSee(cluster, [0, 1, 2, 4], 3, 'failed', DETECT_MS)
    const view = (await membersViaCli(agents[0])).find(m => m.peerId === victim.peerId)
    assert.equal(view?.status, 'failed')
    assert.equal(view?.cause, 'crash', 'a refused connection is evidence of a crash')
    // The kit's events come from each agent's GET /v1/events stream.
    await waitFor('member:failed on the event stream', async () =>
      (await cluster.events()).some(e => e.at >= since && e.observer === 0 && e.type === 'member:failed' && e.member === victim.name), 5000)
  })

  it('`agent leave`: the agent exits and every other agent shows it left', async () => {
    const leaver = agents[2]
    const { code } = await runCli(['leave', '--rpc', leaver.rpc])
    assert.equal(code, 0)
    assert.equal(await leaver.exited, 0, 'the agent exits cleanly after leaving')
    const remaining = [agents[0], agents[1], agents[4]]
    await allSee(cluster, [0, 1, 4], 2, 'left', CONVERGE_MS)
    await waitFor('no false failures among the remaining', async () => {
      const members = await membersViaApi(agents[0])
      return remaining.every(r => members.find(m => m.peerId === r.peerId)?.status === 'alive')
    }, CONVERGE_MS)
  })

  it('SIGTERM leaves gracefully', async () => {
    const leaver = agents[4]
    leaver.child.kill('SIGTERM')
    assert.equal(await leaver.exited, 0)
    await allSee(cluster, [0, 1], 4, 'left', CONVERGE_MS)
  })
})
