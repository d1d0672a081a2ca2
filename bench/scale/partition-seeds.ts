/**
 * The 60 | 40 partition of `npm run sim:scale` alone, over several seeds: the
 * quick way to compare a change to the core on what a partition costs, side
 * by side (sim:scale runs one seed and every loss window first).
 *
 *   node bench/scale/partition-seeds.ts [--size 250] [--seeds 1,2,3,4,5] [--watch] [--no-turns]
 *
 * Each seed: N members join within 10 s, the views converge, 20 s later the
 * cut (1 % loss, Lifeguard on); prints when each side had the other failed
 * with cause `partition` and knew its side, when the views were one again
 * after healing, and what was sent from the cut to one view (bytes per
 * member and second, full syncs, digests). --watch prints every 5 simulated
 * seconds, per side, the members (by index) still missing a verdict and how
 * many members with each local-health score (0 to 7) the side has; and, for the minority, each majority member still alive in the
 * first lagging view with the run of majority members before it on the ring
 * and the health of the minority member that probes through that run.
 * --no-turns runs the members without a shared clock, so without probe turns.
 */
import { parseArgs } from 'node:util'
import { createScaleCluster } from './run.ts'
import { runPartition } from './partition.ts'
import { ALIVE, FAILED, PARTITION, SUSPECT, type Views } from './views.ts'
import { hash32 } from '../../membership/hash.ts'
import type { SimCluster } from '../../testkit/sim/cluster.ts'

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '250' },
    seeds: { type: 'string', default: '1,2,3,4,5' },
    watch: { type: 'boolean', default: false },
    'no-turns': { type: 'boolean', default: false }
  }
})
const size = Number(values.size)
const seeds = values.seeds.split(',').map(Number)
const WATCH_EVERY_MS = 5000

for (const seed of seeds) {
  const wallStart = performance.now()
  const { cluster, views, traffic } = createScaleCluster({ seed, size, lifeguard: true, joinWithinMs: 10_000, probeTurns: !values['no-turns'] })
  let cutAt = 0
  let watchedAt = 0
  const runUntil = (done: () => boolean, maxMs: number, everyMs = 250): number | undefined => {
    const start = cluster.now
    while (!done()) {
      if (values.watch && views.side != null && cluster.now - watchedAt >= WATCH_EVERY_MS) {
        watchedAt = cluster.now
        watch(cluster, views, cluster.now - cutAt)
      }
      if (cluster.now - start >= maxMs) return undefined
      cluster.runFor(everyMs)
    }
    return cluster.now - start
  }
  cluster.start()
  runUntil(() => views.converged(), 600_000, 500)
  cluster.runFor(20_000)
  const sent = (): { syncs: number, digests: number } => views.ids.reduce((sum, id) => {
    const stats = cluster.core(id).stats()
    return { syncs: sum.syncs + stats.syncsSent, digests: sum.digests + stats.digestsSent }
  }, { syncs: 0, digests: 0 })
  const bytesBefore = traffic.snapshot().bytes
  const sentBefore = sent()
  cutAt = watchedAt = cluster.now
  const r = runPartition({ cluster, views, loss: 0.01, runUntil, runFor: ms => { cluster.runFor(ms) } })
  const secs = (cluster.now - cutAt) / 1000
  const perMemberSec = (traffic.snapshot().bytes - bytesBefore) / size / secs
  const sentAfter = sent()
  const s = (ms: number | undefined): string => ms == null ? 'not done' : `${ms / 1000} s`
  console.log(`N=${size} seed ${seed}: majority ${s(r.majorityDoneMs)}, minority ${s(r.minorityDoneMs)}, one view ${s(r.healedMs)} after healing` +
    (r.majorityMissing + r.minorityMissing > 0 ? ` (missing a verdict: ${r.majorityMissing} | ${r.minorityMissing})` : '') +
    ` | cut to one view ${secs.toFixed(1)} s: ${perMemberSec.toFixed(0)} B/member/s, ${sentAfter.syncs - sentBefore.syncs} full syncs, ${sentAfter.digests - sentBefore.digests} digests` +
    ` | ${((performance.now() - wallStart) / 1000).toFixed(1)} s wall`)
}

function watch (cluster: SimCluster, views: Views, sinceCutMs: number): void {
  const side = views.side!
  const n = views.n
  const health = (o: number): number => cluster.core(views.ids[o]).stats().localHealth
  for (const s of [0, 1]) {
    const others = countSide(side, 1 - s)
    const lagging: string[] = []
    const scores = new Array<number>(8).fill(0)
    for (let o = 0; o < n; o++) {
      if (side[o] !== s) continue
      scores[Math.min(health(o), 7)]++
      if (views.crossPartitioned[o] === others) continue
      const seen = { alive: 0, suspect: 0, failed: 0 }
      for (let a = 0; a < n; a++) {
        if (side[a] !== 1 - s) continue
        const code = views.status[o * n + a]
        if (code === ALIVE) seen.alive++
        else if (code === SUSPECT) seen.suspect++
        else if (code === FAILED + PARTITION) seen.failed++
      }
      lagging.push(`${o}: ${seen.alive} alive, ${seen.suspect} suspect, ${seen.failed} failed`)
    }
    console.log(`  +${sinceCutMs / 1000} s, ${s === 0 ? 'majority' : 'minority'}: health ${scores.join(' ')}; ${lagging.length} without every verdict${lagging.length > 0 ? ` (${lagging.slice(0, 3).join('; ')})` : ''}`)
    if (s === 1 && lagging.length > 0) {
      const o = firstLagging(views, others)
      console.log(`    still alive in ${o}'s view: ${aliveRuns(views, o, health).join(' ')}`)
    }
  }
}

function countSide (side: Uint8Array, s: number): number {
  let count = 0
  for (const x of side) if (x === s) count++
  return count
}

function firstLagging (views: Views, others: number): number {
  for (let o = 0; o < views.n; o++) if (views.side![o] === 1 && views.crossPartitioned[o] !== others) return o
  return -1
}

/** Each majority member alive in `o`'s view: the run of live majority members before it on the ring, and the minority member behind that run (its health). */
function aliveRuns (views: Views, o: number, health: (i: number) => number): string[] {
  const { n, ids } = views
  const side = views.side!
  const ring = Array.from({ length: n }, (_, i) => i).sort((x, y) => hash32(ids[x]) - hash32(ids[y]))
  const at = new Map(ring.map((i, k) => [i, k]))
  const out: string[] = []
  for (const a of ring) {
    if (side[a] !== 0 || views.status[o * n + a] !== ALIVE) continue
    let k = at.get(a)!
    let run = 0
    for (;;) {
      k = (k - 1 + n) % n
      const b = ring[k]
      if (side[b] === 1) break
      const code = views.status[o * n + b]
      if (code === ALIVE || code === SUSPECT) run++
    }
    out.push(`${a} (after ${run}, probed through by ${ring[k]} at health ${health(ring[k])})`)
  }
  return out
}
