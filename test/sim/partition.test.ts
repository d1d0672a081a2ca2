/**
 * Membership simulation: a network partition and its healing.
 *
 * Replay a failure exactly with the seed it prints: `SIM_SEED=<seed> npm run test:sim`.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SimCluster } from './cluster.ts'

const N = 50
const MINORITY = 10
const LOSS = 0.05
const DEFAULT_SEED = 0x9a27
/** Longer than gossipToTheDeadMs (30 s): healing cannot rely on gossip to the dead. */
const PARTITION_MS = 60_000
/** Reconnect attempts to failed members run at the push-pull cadence (60 s for n = 50). */
const HEAL_MS = 90_000

function seedFor (offset: number): number {
  const env = process.env.SIM_SEED
  if (env === 'random') return Math.floor(Math.random() * 2 ** 32)
  if (env != null && env !== '') return Number(env)
  return DEFAULT_SEED + offset
}

describe(`membership simulation: ${N} nodes split ${MINORITY}/${N - MINORITY}, ${LOSS * 100}% loss`, () => {
  it('each side declares the other failed (unreachable); after healing everyone is alive everywhere again', () => {
    const seed = seedFor(0)
    try {
      const cluster = new SimCluster({ seed, size: N, profile: 'lan', lossRate: LOSS }).start()
      assert.ok(cluster.runUntil(() => cluster.upIds().length === N && cluster.converged(), 40_000) != null, 'no convergence')
      cluster.runFor(30_000)
      const ids = cluster.ids.filter(id => id !== SimCluster.nodeId(0))
      const minority = ids.slice(0, MINORITY)
      const majority = cluster.ids.filter(id => !minority.includes(id))
      cluster.net.partition(minority, majority)
      cluster.runFor(PARTITION_MS)
      for (const m of minority) {
        for (const o of majority) {
          const seen = cluster.view(o, m)
          assert.equal(seen?.status, 'failed', `${o} sees ${m} as ${seen?.status}`)
          assert.equal(seen?.cause, 'unreachable')
        }
      }
      cluster.net.heal()
      const took = cluster.runUntil(() => cluster.converged(), HEAL_MS, 100)
      assert.ok(took != null, `not healed within ${HEAL_MS} ms`)
    } catch (err) {
      const replay = `SIM_SEED=${seed} (replay: SIM_SEED=${seed} npm run test:sim)`
      if (err instanceof Error) {
        err.message = `${err.message}\n${replay}`
        if (err.stack != null) err.stack = `${replay}\n${err.stack}`
      }
      throw err
    }
  })
})
