/**
 * The test kit's in-process mode (testkit/in-process.ts) with real agents:
 * a crash is seen as one, a restarted agent is the same member again, a
 * partition fails each side for the other until the heal, a leave is final,
 * and what needs another mode says so.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createTestCluster, UnsupportedError } from '../../testkit/index.ts'

describe('test kit, in-process mode', () => {
  it('crash, restart as the same member, partition and heal, leave; unsupported faults say so', async () => {
    const cluster = await createTestCluster({ size: 3, mode: 'in-process' })
    try {
      await cluster.converged({ timeoutMs: 20_000 })
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
      await cluster.heal()
      await cluster.converged({ timeoutMs: 30_000 })

      await cluster.leave(1)
      await cluster.memberIs(0, 1, 'left', undefined, { timeoutMs: 10_000 })
      await assert.rejects(cluster.freeze(0), UnsupportedError)
      await assert.rejects(cluster.loss(0, 2, 0.5), UnsupportedError)
      const events = await cluster.events()
      assert.ok(events.some(e => e.observer === 0 && e.type === 'member:failed' && e.cause === 'crash'))
    } finally {
      await cluster.stop()
    }
  })

  it('mode processes is not built yet and says so', async () => {
    await assert.rejects(createTestCluster({ size: 2, mode: 'processes' }), /not built yet/)
  })
})
