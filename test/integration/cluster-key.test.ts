/**
 * Closed clusters: three agents with cluster key A converge; an agent with key
 * B and one with no key, both joining through agent 1, are never seen by the
 * keyed agents and never see them; agent 1 counts and logs the refusals.
 * Then the crash that `@libp2p/pnet`'s WebAssembly cipher had (docs/security.md,
 * known upstream issues): a job whose messages are MBs, and the
 * traffic after them, leave keyed agents alive. And libp2p nodes in this
 * process, one protected by gossip/pnet.ts and one by `@libp2p/pnet`,
 * talk under one key and fail under two.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { preSharedKey as upstreamPreSharedKey } from '@libp2p/pnet'
import { multiaddr } from '@multiformats/multiaddr'
import type { ConnectionProtector, Stream } from '@libp2p/interface'
import { clusterKeyGuard, newClusterKey } from '../../gossip/cluster-key.ts'
import { createNode, type ClusterNode } from '../../gossip/libp2p-node.ts'
import { jobViaApi, killAll, membersViaApi, runCli, startAgent, waitAllSee, waitFor, type AgentProcess } from './harness.ts'
import type { JobView } from '../../workloads/index.ts'

describe('cluster key: only agents with the same key connect', () => {
  let dir = ''
  let keyed: AgentProcess[] = []
  let strangers: AgentProcess[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cluster-key-'))
    for (const file of ['a.key', 'b.key']) {
      const { code, stderr } = await runCli(['keygen', join(dir, file)])
      assert.equal(code, 0, stderr)
    }
  })
  after(async () => {
    await killAll([...keyed, ...strangers])
    await rm(dir, { recursive: true, force: true })
  })

  it('`agent keygen FILE` writes a pnet key with mode 0600 and refuses to overwrite it', async () => {
    const info = await stat(join(dir, 'a.key'))
    assert.equal(info.mode & 0o777, 0o600)
    assert.equal(info.size, 95)
    const again = await runCli(['keygen', join(dir, 'a.key')])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /exists/)
  })

  it('three agents with key A converge; key B and no key, joining via agent 1, are never seen', async () => {
    const keyA = ['--cluster-key', join(dir, 'a.key')]
    const first = await startAgent({ name: 'a1', extraArgs: keyA })
    assert.doesNotMatch(first.output(), /no cluster key/, 'no open-cluster warning with a key')
    keyed = [first, ...await Promise.all(['a2', 'a3'].map(async name =>
      await startAgent({ name, join: [first.multiaddrs[0]], extraArgs: keyA })))]
    await waitAllSee(keyed, keyed, 'alive', 15_000)

    strangers = [
      await startAgent({ name: 'b4', join: [first.multiaddrs[0]], extraArgs: ['--cluster-key', join(dir, 'b.key')] }),
      // joins over WebSocket: the key protects every transport
      await startAgent({ name: 'open5', join: [first.multiaddrs[1]] })
    ]
    assert.match(strangers[1].output(), /warning: no cluster key/)

    await waitFor('agent 1 counts refused handshakes', async () => {
      const stats = await (await fetch(`http://${first.rpc}/v1/stats`)).json() as { security: { handshakeFailures: number } }
      return stats.security.handshakeFailures >= 2
    }, 15_000, 200)
    // "Never seen" is a negative check, so it needs a window: counted in
    // attempts, not in seconds. Each stranger knows only agent 1 and retries
    // its join (after 1 s, then 2 s, ...): once three of its sends to it
    // failed, it tried to join three times and was refused each time. A key
    // that did not hold would have let the first attempt in.
    await waitFor('each stranger\'s join refused three times', async () => {
      for (const stranger of strangers) {
        const stats = await (await fetch(`http://${stranger.rpc}/v1/stats`)).json() as { transport: { dropped: { sendFailed: number } } }
        if (stats.transport.dropped.sendFailed < 3) return false
      }
      return true
    }, 30_000, 200)
    const keyedIds = new Set(keyed.map(a => a.peerId))
    for (const agent of keyed) {
      const ids = (await membersViaApi(agent)).map(m => m.peerId)
      assert.deepEqual(new Set(ids), keyedIds, `${agent.name} lists only the keyed agents`)
    }
    for (const stranger of strangers) {
      const ids = (await membersViaApi(stranger)).map(m => m.peerId)
      assert.deepEqual(ids, [stranger.peerId], `${stranger.name} sees nobody`)
    }
    assert.match(first.output(), /refused a connection with \/ip4\/127\.0\.0\.1\/tcp\/\d+/, 'the refusal is logged with the remote address')
  })

  it('a malformed key file is refused at start with a clear error', async () => {
    const { code, stderr } = await runCli(['--cluster-key', join(dir, 'missing.key'), '--listen', '/ip4/127.0.0.1/tcp/0', '--no-rpc'])
    assert.notEqual(code, 0)
    assert.match(stderr, /cannot read the cluster key/)
  })
})

describe('cluster key: large work messages and the traffic after them do not crash a keyed agent', () => {
  let dir = ''
  let agents: AgentProcess[] = []

  after(async () => {
    await killAll(agents)
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('two keyed agents run a job of 30,000 tasks (its replication snapshot is a work message of MBs; claims and results follow): both stay up and the job ends done', { timeout: 90_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'cluster-key-large-'))
    const keyFile = join(dir, 'cluster.key')
    await writeFile(keyFile, newClusterKey(), { mode: 0o600 })
    const first = await startAgent({ name: 'k1', extraArgs: ['--cluster-key', keyFile] })
    agents = [first, await startAgent({ name: 'k2', join: [first.multiaddrs[0]], extraArgs: ['--cluster-key', keyFile] })]
    await waitAllSee(agents, agents, 'alive', 10_000)

    const submitted = await runCli(['submit', 'sleep', '--input', '{"tasks":30000,"ms":0}', '--no-wait', '--json', '--rpc', first.rpc])
    assert.equal(submitted.code, 0, submitted.stderr)
    const { id } = JSON.parse(submitted.stdout) as { id: string }
    // With @libp2p/pnet's cipher the coordinator died soon after sending the
    // snapshot: both are watched until the job ended, i.e. through the
    // snapshot and all the claims, grants and results after it.
    let job: JobView | undefined
    await waitFor(`job ${id} ends, both agents up`, async () => {
      for (const agent of agents) {
        assert.ok(agent.child.exitCode == null && agent.child.signalCode == null, `${agent.name} died:\n${agent.output().slice(-3000)}`)
      }
      job = await jobViaApi(first, id)
      return job != null && job.status !== 'running'
    }, 60_000, 250).catch(err => {
      // an agent that died is the failure to report, not the wait
      for (const agent of agents) assert.ok(agent.child.exitCode == null && agent.child.signalCode == null, `${agent.name} died:\n${agent.output().slice(-3000)}`)
      throw err
    })
    assert.equal(job?.status, 'done', JSON.stringify(job?.stats))
    assert.equal(job?.result, 30_000)
    const { work } = await (await fetch(`http://${first.rpc}/v1/stats`)).json() as { work: { coordinator: { snapshotParts: number } } }
    assert.ok(work.coordinator.snapshotParts >= 1, 'the coordinator sent its replication snapshot')
    for (const agent of agents) assert.doesNotMatch(agent.output(), /RangeError|Uncaught|uncaught/, agent.name)
    await waitAllSee(agents, agents, 'alive', 3000)
    await waitFor('k2 knows the job ended done', async () => (await jobViaApi(agents[1], id))?.status === 'done', 10_000)
  })
})

describe('cluster key: a node with gossip/pnet.ts and a node with @libp2p/pnet', () => {
  const ECHO = '/test/echo/1.0.0'
  const nodes: ClusterNode[] = []
  after(async () => { await Promise.all(nodes.map(async n => { await n.stop() })) })

  /** A node on TCP and WebSocket whose ECHO protocol sends back what it reads. */
  async function echoNode (protector: (components: any) => ConnectionProtector): Promise<ClusterNode> {
    const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'], connectionProtector: protector })
    nodes.push(node)
    await node.handle(ECHO, (stream) => {
      stream.addEventListener('message', (evt) => { stream.send(evt.data) })
      stream.addEventListener('remoteCloseWrite', () => { void stream.close().catch(() => {}) })
    })
    return node
  }

  /** Sends `data` on a new ECHO stream from `from` to `to`'s address `which`; resolves with what came back. */
  async function roundTrip (from: ClusterNode, to: ClusterNode, which: 'tcp' | 'ws', data: Uint8Array): Promise<Buffer> {
    const addr = to.getMultiaddrs().find(a => a.toString().includes('/ws') === (which === 'ws'))!
    const stream: Stream = await from.dialProtocol(multiaddr(addr.toString()), ECHO, { signal: AbortSignal.timeout(5000) })
    const chunks: Uint8Array[] = []
    let length = 0
    const done = new Promise<void>(resolve => {
      stream.addEventListener('message', (evt) => {
        const chunk = evt.data.subarray()
        chunks.push(chunk)
        length += chunk.length
        if (length >= data.length) resolve()
      })
    })
    for (let at = 0; at < data.length; at += 16_384) stream.send(data.subarray(at, at + 16_384))
    await done
    await stream.close().catch(() => {})
    return Buffer.concat(chunks)
  }

  it('exchange data both ways under the same key, over TCP and WebSocket, whichever dials', { timeout: 30_000 }, async () => {
    const key = newClusterKey()
    const ours = await echoNode((await clusterKeyGuard(key, () => {})).protector)
    const upstream = await echoNode(upstreamPreSharedKey({ psk: key }))
    // Below @libp2p/pnet's initial WebAssembly memory: this test process must not grow it.
    const data = randomBytes(100_000)
    for (const which of ['tcp', 'ws'] as const) {
      assert.deepEqual(await roundTrip(ours, upstream, which, data), data, `ours dials @libp2p/pnet over ${which}`)
      assert.deepEqual(await roundTrip(upstream, ours, which, data), data, `@libp2p/pnet dials ours over ${which}`)
      await ours.hangUp(upstream.peerId)
    }
  })

  it('under different keys no connection is made, and ours counts the refusal', { timeout: 30_000 }, async () => {
    const refused: string[] = []
    const guard = await clusterKeyGuard(newClusterKey(), (addr) => { refused.push(addr) })
    const ours = await echoNode(guard.protector)
    guard.attach(ours)
    const upstream = await echoNode(upstreamPreSharedKey({ psk: newClusterKey() }))
    for (const [from, to] of [[ours, upstream], [upstream, ours]]) {
      await assert.rejects(from.dialProtocol(to.getMultiaddrs()[0], ECHO, { signal: AbortSignal.timeout(5000) }))
    }
    await waitFor('ours counts the refused connections', async () => guard.stats().handshakeFailures >= 2, 5000)
    assert.equal(ours.getConnections().length, 0)
  })
})
