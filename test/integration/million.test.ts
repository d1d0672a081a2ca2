/**
 * A job of a million tasks survives its coordinator's kill -9: three agents
 * run `sleep` with 1,000,000 tasks of 0 ms; once a third is counted the
 * coordinator is killed, its replica takes the job over from its replicated
 * record (sent in parts, workloads/snapshot.ts), and the job ends with
 * exactly 1,000,000 counted, read back from another agent.
 *
 * The longest test of the suite (minutes: it is a million tasks through one
 * coordinator); its time is the throughput benchmark's business, not an
 * assertion here.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { JobView } from '../../workloads/index.ts'
import { jobViaApi, killAll, startCluster, submitViaApi, waitAllSee, waitFor, type AgentProcess } from './harness.ts'

const TASKS = 1_000_000

describe('work claims: a million tasks through a coordinator kill -9', () => {
  let agents: AgentProcess[] = []
  before(async () => {
    agents = await startCluster(3, 'mil', 'lan', ['--slots', '64'])
    await waitAllSee(agents, agents, 'alive', 20_000)
  })
  after(async () => { await killAll(agents) })

  it(`sleep with ${TASKS} tasks of 0 ms counts exactly ${TASKS}`, { timeout: 25 * 60_000 }, async (t) => {
    const [coordinator, ...survivors] = agents
    const id = await submitViaApi(coordinator, 'sleep', { tasks: TASKS, ms: 0 })
    const start = performance.now()
    await waitFor('a third of the tasks counted', async () => ((await jobViaApi(coordinator, id))?.stats.done ?? 0) >= TASKS / 3, 10 * 60_000, 1000)
    coordinator.child.kill('SIGKILL')
    await coordinator.exited
    t.diagnostic(`coordinator killed after ${Math.round((performance.now() - start) / 1000)} s`)
    let last: JobView | undefined
    // while a replica takes over, a lookup may find nobody for a moment: keep asking
    await waitFor('the job ends', async () => {
      last = await jobViaApi(survivors[1], id)
      return last != null && last.status !== 'running'
    }, 20 * 60_000, 2000)
    t.diagnostic(`ended after ${Math.round((performance.now() - start) / 1000)} s at epoch ${last!.epoch}; rerun ${last!.stats.rerun}, duplicates ${last!.stats.duplicates}`)
    assert.equal(last!.status, 'done', last!.error ?? '')
    assert.equal(last!.result, TASKS, 'each task counted exactly once')
    assert.equal(last!.stats.done, TASKS)
    assert.ok(last!.epoch >= 2, 'a replica took the job over')
    assert.notEqual(last!.coordinator, coordinator.peerId)
  })
})
