/**
 * The test kit's simulated mode (testkit/): a seed replays the same run, and a
 * 20-agent cluster simulates 10 minutes with a partition and a crash in a few
 * seconds of wall time.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createTestCluster, WaitTimeoutError, type TestEvent } from '../../testkit/index.ts'

async function scenario (seed: number): Promise<TestEvent[]> {
  const cluster = await createTestCluster({ size: 6, mode: 'simulated', seed })
  await cluster.converged()
  await cluster.partition([0, 1], [2, 3, 4, 5])
  await cluster.memberIs(0, 5, 'failed')
  await cluster.crash(3)
  await cluster.memberIs(2, 3, 'failed', 'crash')
  await cluster.heal()
  await cluster.converged()
  await cluster.stop()
  return await cluster.events()
}

describe('test kit, simulated mode', () => {
  it('the same seed gives the same member events, twice in a row', async () => {
    const first = await scenario(99)
    const second = await scenario(99)
    assert.ok(first.length > 50, `${first.length} events`)
    assert.deepEqual(second, first)
    assert.notDeepEqual(await scenario(100), first)
  })

  it('20 agents through 10 simulated minutes with a partition and a crash, in seconds', { timeout: 10_000 }, async () => {
    const t0 = performance.now()
    const cluster = await createTestCluster({ size: 20, mode: 'simulated', seed: 20 })
    await cluster.converged()
    await cluster.advance(60_000)
    await cluster.partition([0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
    await cluster.memberIs(19, 0, 'failed', 'partition', { timeoutMs: 120_000 })
    await cluster.advance(120_000)
    await cluster.heal()
    await cluster.converged({ timeoutMs: 120_000 })
    await cluster.crash(12)
    await cluster.memberIs(0, 12, 'failed', 'crash')
    const id = await cluster.submit(0, 'sleep', { tasks: 40, ms: 500 })
    assert.equal((await cluster.jobDone(id)).result, 40)
    await cluster.advance(600_000 - cluster.now())
    assert.equal(cluster.now(), 600_000)
    await cluster.stop()
    const wall = performance.now() - t0
    assert.ok(wall < 10_000, `${Math.round(wall)} ms of wall time`)
  })

  it("a wait that runs out names the seed and every agent's view", async () => {
    const cluster = await createTestCluster({ size: 3, mode: 'simulated', seed: 5 })
    await cluster.converged()
    await assert.rejects(cluster.memberIs(0, 1, 'failed', undefined, { timeoutMs: 2000 }), (err: Error) => {
      assert.ok(err instanceof WaitTimeoutError)
      assert.match(err.message, /seed 5/)
      assert.match(err.message, /agent 2: .*=alive/)
      return true
    })
  })
})
