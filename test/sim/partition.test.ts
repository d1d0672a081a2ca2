/**
 * Membership simulation: telling a crash from a partition.
 *
 * A 5-node and a 50-node cluster split 2|3 (20|30): each side marks the other
 * `partition` and knows whether it is the minority; after healing everyone is
 * alive everywhere, `partition:healed` fired on every node and every side is
 * the majority again. A single silent host stays `unreachable`, a refused one `crash`.
 * Nobody on either side of a cut loses its local health over it.
 *
 * Replay a failure exactly with the seed it prints: `SIM_SEED=<seed> npm run test:sim`.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { MemberId } from '../../membership/index.ts'
import { SimCluster } from '../../testkit/sim/cluster.ts'
import { seeded } from './seed.ts'

const LOSS = 0.05
const DEFAULT_SEED = 0x9a27
/** Longer than gossipToTheDeadMs (30 s): healing cannot rely on gossip to the dead. */
const PARTITION_MS = 60_000
/** Reconnect attempts to failed members run every reconnectIntervalMs (2 s); merging takes a few rounds. */
const HEAL_MS = 90_000
const SILENT_DETECTED_MS = 60_000
/** Every member of each side failed on the other side: a probe round (50 s for 50 members) plus the max suspicion timeout (41 s). */
const DETECTED_MS = 120_000

const { simulate } = seeded(DEFAULT_SEED)

/** A converged cluster whose stable membership covers everyone. */
function boot (seed: number, size: number, lossRate = LOSS): SimCluster {
  const cluster = new SimCluster({ seed, size, profile: 'lan', lossRate }).start()
  assert.ok(cluster.runUntil(() => cluster.upIds().length === size && cluster.converged(), 40_000) != null, 'no convergence')
  cluster.runFor(30_000)
  for (const id of cluster.ids) assert.deepEqual(cluster.core(id).health(), { side: 'majority', componentSize: size, stableSize: size }, id)
  assert.deepEqual(cluster.clusterEvents, [])
  return cluster
}

function clusterEventsOf (cluster: SimCluster, observer: MemberId, since = 0): string[] {
  return cluster.clusterEvents.filter(e => e.observer === observer && e.at >= since).map(e => `${e.event.type} ${e.event.side}`)
}

for (const [index, [size, minoritySize]] of [[5, 2], [50, 20]].entries()) {
  describe(`membership simulation: ${size} nodes split ${minoritySize}|${size - minoritySize}, ${LOSS * 100}% loss`, () => {
    it('each side marks the other partition and knows its side; after healing all alive, healed, majority', simulate(10 + index, (seed) => {
      const cluster = boot(seed, size)
      const ids = cluster.ids.filter(id => id !== SimCluster.nodeId(0))
      const minority = ids.slice(0, minoritySize)
      const majority = cluster.ids.filter(id => !minority.includes(id))
      const cutAt = cluster.now
      cluster.net.partition(minority, majority)
      const everyoneFailed = (): boolean => minority.every(m => majority.every(o => cluster.view(o, m)?.status === 'failed' && cluster.view(m, o)?.status === 'failed'))
      // With 30 members failing at once the gossip queues saturate: a few observers only
      // learn of the last ones from their own probe round plus a suspicion timeout.
      assert.ok(cluster.runUntil(everyoneFailed, DETECTED_MS, 500) != null, `sides not separated within ${DETECTED_MS} ms`)
      cluster.runFor(Math.max(0, PARTITION_MS - (cluster.now - cutAt)))
      const check = (side: MemberId[], others: MemberId[], expected: 'minority' | 'majority'): void => {
        for (const o of side) {
          for (const m of others) {
            const seen = cluster.view(o, m)
            assert.equal(seen?.status, 'failed', `${o} sees ${m} as ${seen?.status}`)
            assert.equal(seen?.cause, 'partition', `${o} on ${m}`)
          }
          assert.deepEqual(cluster.core(o).health(), { side: expected, componentSize: side.length, stableSize: size }, o)
          const events = clusterEventsOf(cluster, o, cutAt)
          assert.ok(events.length > 0 && events.every(e => e.startsWith('partition:detected')), `${o}: ${events.join('; ')}`)
          assert.ok(events.includes(`partition:detected ${expected}`), `${o}: ${events.join('; ')}`)
        }
      }
      check(minority, majority, 'minority')
      check(majority, minority, 'majority')

      const healAt = cluster.now
      cluster.net.heal()
      const took = cluster.runUntil(() => cluster.converged(), HEAL_MS, 100)
      assert.ok(took != null, `not healed within ${HEAL_MS} ms`)
      for (const id of cluster.ids) {
        assert.deepEqual(cluster.core(id).health(), { side: 'majority', componentSize: size, stableSize: size }, id)
        const events = clusterEventsOf(cluster, id, healAt)
        assert.deepEqual(events, ['partition:healed majority'], `${id}: ${events.join('; ')}`)
        const healed = cluster.clusterEvents.filter(e => e.observer === id && e.event.type === 'partition:healed')[0].event
        // The other side, and now and then a member of our own side: while the sides merge, a
        // stale accusation from the other side can fail one for a moment before it refutes.
        for (const other of minority.includes(id) ? majority : minority) assert.ok(healed.members.includes(other), `${id}: ${other}`)
      }
    }))

    it('a single silent host is unreachable, a refused one crash; neither is a partition', simulate(20 + index, (seed) => {
      const cluster = boot(seed, size)
      const [silent, refused] = cluster.ids.slice(1, 3)
      cluster.crash(silent, { refuse: false })
      assert.ok(cluster.runUntil(() => cluster.allSee(silent, 'failed'), SILENT_DETECTED_MS) != null, 'silent host not detected')
      for (const o of cluster.upIds()) {
        assert.equal(cluster.view(o, silent)?.cause, 'unreachable', o)
        assert.deepEqual(cluster.core(o).health(), { side: 'majority', componentSize: size - 1, stableSize: size }, o)
      }
      cluster.crash(refused, { refuse: true })
      assert.ok(cluster.runUntil(() => cluster.allSee(refused, 'failed'), 10_000) != null, 'refused host not detected')
      cluster.runFor(5000)
      for (const o of cluster.upIds()) {
        assert.equal(cluster.view(o, refused)?.cause, 'crash', o)
        assert.equal(cluster.view(o, silent)?.cause, 'unreachable', o)
        assert.deepEqual(cluster.core(o).health(), { side: 'majority', componentSize: size - 2, stableSize: size - 1 }, o)
      }
      assert.deepEqual(cluster.clusterEvents, [])
    }))
  })
}

describe('membership simulation: local health across a partition', () => {
  // Lifeguard counts a nack that did not come against the prober's own health. Those of
  // intermediaries on the far side of a cut (heard from just before it) say nothing about
  // the prober: counted, they put minority members at poor health within seconds, and
  // their probes of the other side slowed to one every few intervals (docs/scale.md).
  it('neither side of a 24|16 cut distrusts itself: every member stays in good health', simulate(30, (seed) => {
    const cluster = boot(seed, 40, 0)
    const ids = cluster.upIds()
    cluster.net.partition(ids.slice(0, 24), ids.slice(24))
    for (let second = 1; second <= 10; second++) {
      cluster.runFor(1000)
      const unwell = ids.filter(id => cluster.core(id).stats().localHealth > 1)
      assert.deepEqual(unwell.map(id => `${id}: ${cluster.core(id).stats().localHealth}`), [], `${second} s after the cut`)
    }
  }))
})
