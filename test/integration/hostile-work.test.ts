/**
 * A hostile peer against the work protocol of a real 3-agent cluster (open,
 * so anyone can connect, as on a cluster without a key): it speaks for the
 * coordinator of a running job — forged takeover, job ends with a forged
 * result or nested 20,000 deep, replication in its name — and sends grants
 * nobody claimed (a 1.5 GB sha256 block; a shell command to an agent that
 * allows exec). Each forgery is refused and counted in /v1/stats, the agents
 * stay healthy (hostile.ts), and the real job ends with the right result.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import * as lp from 'it-length-prefixed'
import type { Stream } from '@libp2p/interface'
import { createNode, decodeWire, encodeWire, WORK_PROTOCOL, WORK_TOPIC, type ClusterNode, type WireMessage } from '../../gossip/index.ts'
import type { JobView } from '../../workloads/index.ts'
import { jobViaApi, killAll, startAgent, startCluster, submitViaApi, waitAllSee, waitFor, type AgentProcess } from './harness.ts'
import { agentStats, assertSurvived, describeReport, underAttack } from './hostile.ts'

interface WorkStats {
  work: {
    coordinator: { forged: Record<string, number> }
    worker: { forged: Record<string, number>, tasksStarted: number }
    lookups: { endsRejected: number }
    transport: { dropped: { malformed: number } }
  }
}

const forged = (s: WorkStats, side: 'coordinator' | 'worker', type: string): number => s.work[side].forged[type] ?? 0

describe('hostile peer: forged work control', () => {
  let agents: AgentProcess[] = []
  let execAgent: AgentProcess
  let rogue: ClusterNode
  /** Offers the rogue heard on the topic, by job id. */
  const offers = new Map<string, Extract<WireMessage, { type: 'offer' }>>()

  const publish = async (msg: WireMessage): Promise<void> => { await rogue.services.pubsub.publish(WORK_TOPIC, encodeWire(msg)) }
  const direct = async (agent: AgentProcess, frames: Uint8Array[]): Promise<void> => {
    const stream: Stream = await rogue.dialProtocol(multiaddr(agent.multiaddrs[0]), WORK_PROTOCOL)
    for (const frame of frames) stream.send(lp.encode.single(frame).subarray())
    await stream.close().catch(() => {})
  }

  before(async () => {
    agents = await startCluster(3, 'w', 'lan', ['--slots', '2'])
    execAgent = await startAgent({ name: 'wexec', join: [agents[0].multiaddrs[0]], extraArgs: ['--slots', '2', '--allow-exec-open'] })
    agents.push(execAgent)
    await waitAllSee(agents, agents, 'alive', 20_000)
    rogue = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    rogue.services.pubsub.subscribe(WORK_TOPIC)
    rogue.services.pubsub.addEventListener('message', (evt) => {
      try {
        const msg = decodeWire(evt.detail.data)
        if (msg.type === 'offer') offers.set(msg.jobId, msg)
      } catch {}
    })
    for (const a of agents) await rogue.dial(multiaddr(a.multiaddrs[0]))
    // every agent sees the rogue on the topic before it speaks
    await waitFor('rogue in the topic mesh', async () => rogue.services.pubsub.getSubscribers(WORK_TOPIC).length >= agents.length, 10_000)
  })
  after(async () => {
    await rogue?.stop()
    await killAll(agents)
  })

  it('forged takeover, job ends and replication are refused and counted; the real job ends with the right result', async () => {
    const [coordinator, ...others] = agents
    const id = await submitViaApi(coordinator, 'sleep', { tasks: 120, ms: 100 })
    await waitFor('the rogue heard an offer of the job', async () => offers.has(id), 10_000)
    const offer = offers.get(id)!
    const replica = agents.find(a => a.peerId === offer.replicas[0])!
    const before = await Promise.all(agents.map(async a => await agentStats<WorkStats>(a)))
    const deep = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`
    const view = (await jobViaApi(coordinator, id))!
    const rogueId = rogue.peerId.toString()

    const { report } = await underAttack(coordinator, others, async () => {
      // 1. a takeover in its own name, and one naming the real replica
      await publish({ type: 'takeover', jobId: id, coordinator: rogueId, epoch: 99 })
      await publish({ type: 'takeover', jobId: id, coordinator: replica.peerId, epoch: 99 })
      // 2. job ends: in the coordinator's name, in its own, and one nested 20,000 deep
      await publish({ type: 'job-end', job: { ...view, status: 'done', result: 12345 } })
      await publish({ type: 'job-end', job: { ...view, status: 'done', result: 12345, coordinator: rogueId } })
      await rogue.services.pubsub.publish(WORK_TOPIC, new TextEncoder().encode(`{"type":"job-end","job":${JSON.stringify({ ...view, status: 'done' }).replace('"result":null', `"result":${deep}`)}}`))
      // 3. an offer of the job at a higher epoch, as if it had taken it over
      await publish({ ...offer, coordinator: rogueId, epoch: 99 })
      // 4. replication in its name to the replica
      await direct(replica, [encodeWire({ type: 'replicate', jobId: id, coordinator: rogueId, epoch: 99, seq: 1, replicas: [replica.peerId], tasks: [], status: 'done', result: 1, error: null, ignored: 0, duplicates: 0 })])
      // The attack lasts until every forgery was refused and counted: the watcher sees the agents while they handle them.
      await waitFor('forgeries counted', async () => {
        const now = await Promise.all(agents.map(async a => await agentStats<WorkStats>(a)))
        const sum = (f: (s: WorkStats) => number): number => now.reduce((n, s) => n + f(s), 0) - before.reduce((n, s) => n + f(s), 0)
        return sum(s => forged(s, 'coordinator', 'takeover')) >= 1 &&
          sum(s => s.work.lookups.endsRejected) >= 2 * (agents.length - 1) &&
          sum(s => s.work.transport.dropped.malformed) >= 1 &&
          sum(s => forged(s, 'coordinator', 'replicate')) >= 1
      }, 10_000)
    })
    assertSurvived(coordinator, report)
    // the lookups still answer on every agent (a 20,000-deep result would make them fail)
    for (const a of agents) {
      const res = await fetch(`http://${a.rpc}/v1/jobs`, { signal: AbortSignal.timeout(5000) })
      assert.equal(res.status, 200, `${a.name} GET /v1/jobs`)
    }
    let last: JobView | undefined
    await waitFor('the real job ends', async () => { last = await jobViaApi(others[0], id); return last?.status !== 'running' }, 60_000)
    assert.equal(last?.status, 'done')
    assert.equal(last?.result, 120, 'each task counted once, none from the forged ends')
    assert.equal(last?.coordinator, coordinator.peerId, 'nobody took the job over')
    assert.equal(last?.epoch, 1)
  })

  it('grants nobody claimed are never run: a 1.5 GB sha256 block, and a shell command on an agent that allows exec', async () => {
    const marker = `/tmp/hostile-work-${process.pid}-${Date.now()}`
    const before = await agentStats<WorkStats>(execAgent)
    const { report } = await underAttack(execAgent, agents.filter(a => a !== execAgent), async () => {
      await direct(execAgent, [
        encodeWire({ type: 'grant', jobId: 'f00df00df00df00d', epoch: 1, workload: 'sha256', tasks: [{ index: 0, input: { first: 0, count: 1, blockBytes: 1_500_000_000 } }] }),
        encodeWire({ type: 'grant', jobId: 'f00df00df00df00e', epoch: 1, workload: 'exec', tasks: [{ index: 0, input: { command: `touch ${marker}`, timeoutMs: 1000, tags: {} } }] })
      ])
      // The attack lasts until both grants were refused and counted (then the watcher's settle time: a grant run anyway would show).
      await waitFor('both grants counted as forged', async () =>
        forged(await agentStats<WorkStats>(execAgent), 'worker', 'grant') >= forged(before, 'worker', 'grant') + 2, 10_000)
    })
    assertSurvived(execAgent, report)
    const after = await agentStats<WorkStats>(execAgent)
    assert.ok(forged(after, 'worker', 'grant') >= forged(before, 'worker', 'grant') + 2, `grants counted as forged: ${JSON.stringify(after.work.worker.forged)}`)
    assert.equal(after.work.worker.tasksStarted, before.work.worker.tasksStarted, 'nothing ran')
    assert.equal(existsSync(marker), false, 'the command did not run')
    assert.ok(report.rssPeakBytes - report.rssBeforeBytes < 64 * 1024 * 1024, describeReport(report))
  })
})
