/**
 * A multi-node integration test written with the test kit, as a team building
 * on the agent would write one (docs/testkit.md). Outside this repository the
 * import is `from 'gossip-cluster-agent/testkit'`.
 *
 * Five agents; a partition between {0, 1} and {2, 3, 4}; both sides' verdicts;
 * the heal; then a job and its exact result. The same test in each mode:
 * simulated (logical time, a seed), real agents in this process, and one real
 * agent process each.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createTestCluster, type TestCluster, type Views } from '../testkit/index.ts'

/** What agent `observer` thinks of agent `member`. */
function statusOf (cluster: TestCluster, views: Views, observer: number, member: number): string | undefined {
  return views[observer]?.find(m => m.peerId === cluster.peerId(member))?.status
}

for (const mode of ['simulated', 'in-process', 'processes'] as const) {
  describe(`a 5-agent cluster through a partition (${mode})`, () => {
    it('each side fails the other, heals into one view, and runs a job to its exact result', async () => {
      const cluster = await createTestCluster({ size: 5, mode, seed: 2026 })
      try {
        await cluster.converged()

        await cluster.partition([0, 1], [2, 3, 4])
        const minority = [0, 1]
        const majority = [2, 3, 4]
        await cluster.until(views =>
          minority.every(i => majority.every(j => statusOf(cluster, views, i, j) === 'failed')) &&
          majority.every(i => minority.every(j => statusOf(cluster, views, i, j) === 'failed')),
        { what: 'both sides see the other failed' })
        // Each side also knows it is a partition, not a crash.
        await cluster.memberIs(0, 4, 'failed', 'partition')
        await cluster.memberIs(4, 0, 'failed', 'partition')

        await cluster.heal()
        await cluster.converged()

        const id = await cluster.submit(2, 'sleep', { tasks: 20, ms: 100 })
        const job = await cluster.jobDone(id)
        assert.equal(job.status, 'done')
        assert.equal(job.result, 20)
      } finally {
        await cluster.stop()
      }
    })
  })
}
