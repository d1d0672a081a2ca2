/**
 * Twenty agents on one host, all on 127.0.0.1: a job submitted to one of them
 * runs across them. Gossipsub's default penalty for many peers behind one IP
 * address (its Sybil defence) once made every agent that had seen more than
 * 14 peers from an address ignore all of them, so a job ran only where it was
 * submitted; the penalty is off now (gossip/libp2p-node.ts).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { jobViaApi, killAll, launchableBundle, startAgent, startAllAtOnce, submitViaApi, waitAllSee, waitFor, type AgentProcess } from './harness.ts'

const N = 20
/** Launch to full views: a hang, not a slow start. */
const CONVERGE_MS = 120_000
/** A job of 4N tasks of 50 ms: a hang, not a slow job. */
const JOB_MS = 60_000

describe(`${N} agents on one host`, () => {
  const agents: AgentProcess[] = []
  let bundle: Awaited<ReturnType<typeof launchableBundle>> | undefined
  before(async () => { bundle = await launchableBundle() })
  after(async () => {
    await killAll(agents)
    await bundle?.remove()
  })

  it('a job submitted to one of them runs on many of them, not only where it was submitted', { timeout: CONVERGE_MS + JOB_MS + 30_000 }, async () => {
    const first = await startAgent({ name: 'h1', nodeEntry: bundle?.entry })
    agents.push(first)
    await startAllAtOnce(Array.from({ length: N - 1 }, (_, i) => ({ name: `h${i + 2}`, join: [first.multiaddrs[0]], nodeEntry: bundle?.entry, startTimeoutMs: CONVERGE_MS })), agents)
    await waitAllSee(agents, agents, 'alive', CONVERGE_MS, 500)

    const coordinator = agents[N - 1]
    const id = await submitViaApi(coordinator, 'sleep', { tasks: 4 * N, ms: 50 })
    await waitFor('the job ends', async () => (await jobViaApi(coordinator, id))?.status !== 'running', JOB_MS, 200)
    const job = await jobViaApi(coordinator, id)
    assert.equal(job?.status, 'done')
    const perNode = job.stats.perNode
    // Offers go to a few members at a time, widened on re-offers: not every agent need claim.
    const workers = Object.keys(perNode).filter(name => perNode[name] > 0)
    assert.ok(workers.length >= 5, `tasks ran on ${workers.length} of ${N} agents: ${JSON.stringify(perNode)}`)
  })
})
