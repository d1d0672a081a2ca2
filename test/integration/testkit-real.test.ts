/**
 * The test kit's real modes (testkit/in-process.ts, testkit/processes.ts):
 * a crash is seen as one, a restarted agent is the same member again, a
 * partition fails each side for the other until the heal, a leave is final,
 * a frozen process is failed and comes back when resumed, each agent gets
 * its own options, and what needs another mode says so.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createTestCluster, UnsupportedError, type TestCluster } from '../../testkit/index.ts'
import type { Workload } from '../../agent/index.ts'

/** A workload of our own: each of two tasks doubles the input; the sum is returned. */
const DOUBLE: Workload<number, number, number, number> = {
  kind: 'map',
  description: 'the input doubled, twice, summed',
  validate: input => { if (typeof input !== 'number') throw new Error('input must be a number'); return input },
  split: n => [n, n],
  run: async n => 2 * n,
  reduce: results => results.reduce((sum, r) => sum + r.value, 0)
}

/** What both real modes must do, on a 3-agent cluster that has converged. */
async function crashRestartPartitionLeave (cluster: TestCluster): Promise<void> {
  const peer2 = cluster.peerId(2)
  await cluster.crash(2)
  await cluster.memberIs(0, 2, 'failed', 'crash', { timeoutMs: 20_000 })
  await cluster.restart(2)
  assert.equal(cluster.peerId(2), peer2, 'the same key, so the same member')
  await cluster.converged({ timeoutMs: 20_000 })

  // Agent 0 cut off from the other two: each side fails the other, and the heal mends it.
  // (A cut of one link alone would not: SWIM's indirect probes go around it.)
  await cluster.partition([0], [1, 2])
  await cluster.memberIs(1, 0, 'failed', undefined, { timeoutMs: 30_000 })
  await cluster.memberIs(0, 2, 'failed', undefined, { timeoutMs: 30_000 })
  // Restarted behind the cut, agent 0 hears nothing from across it from its first moment on:
  // it rejoins the members it knew at once, and they must not be seen. (Looked at for a few
  // seconds: this cannot fail on a slow machine, only miss a regression.)
  await cluster.crash(0)
  await cluster.restart(0)
  await sleep(3000)
  assert.deepEqual((await cluster.views())[0]?.map(m => m.name), ['agent-0'], 'after its restart behind the cut, agent 0 knows no one across it')
  await cluster.heal()
  await cluster.converged({ timeoutMs: 30_000 })

  await cluster.leave(1)
  await cluster.memberIs(0, 1, 'left', undefined, { timeoutMs: 10_000 })
  await assert.rejects(cluster.loss(0, 2, 0.5), UnsupportedError)
  const events = await cluster.events()
  assert.ok(events.some(e => e.observer === 0 && e.type === 'member:failed' && e.cause === 'crash'), 'agent 0 saw the crash as an event')
  assert.ok(events.some(e => e.observer === 0 && e.type === 'member:leave'), 'agent 0 saw the leave as an event')
}

describe('test kit, in-process mode', () => {
  it('crash, restart as the same member, partition and heal, leave; options and a workload of our own per agent; freezing says which mode can', async () => {
    const cluster = await createTestCluster({
      size: 3,
      mode: 'in-process',
      agentOptions: i => ({ tags: { rack: `r${i}` } }),
      setupAgent: agent => { agent.workloads.register('double', DOUBLE) }
    })
    try {
      await cluster.converged({ timeoutMs: 20_000 })
      assert.equal(cluster.agent(0).members().find(m => m.peerId === cluster.peerId(2))?.tags.rack, 'r2')
      assert.equal((await cluster.jobDone(await cluster.submit(1, 'double', 21))).result, 84, 'our own workload ran in the cluster')
      await assert.rejects(cluster.freeze(0), /mode 'processes'/)
      await crashRestartPartitionLeave(cluster)
    } finally {
      await cluster.stop()
    }
  })
})

describe('test kit, processes mode', () => {
  it('freeze (SIGSTOP) and resume; crash, restart, partition and heal, leave; agent flags per index', async () => {
    const cluster = await createTestCluster({ size: 3, mode: 'processes', agentArgs: i => ['--tag', `rack=r${i}`] })
    try {
      await cluster.converged({ timeoutMs: 20_000 })
      assert.equal((await cluster.views())[0]?.find(m => m.peerId === cluster.peerId(2))?.tags.rack, 'r2')
      await cluster.freeze(2)
      await cluster.memberIs(0, 2, 'failed', undefined, { timeoutMs: 20_000 })
      assert.equal((await cluster.views())[2], undefined, 'a frozen agent has no view to read')
      await cluster.resume(2)
      await cluster.converged({ timeoutMs: 20_000 })
      await crashRestartPartitionLeave(cluster)
      assert.equal(await cluster.process(1).exited, 0, 'the agent that left exited cleanly')
    } finally {
      await cluster.stop()
    }
  })
})
