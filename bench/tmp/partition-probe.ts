// Temporary: partition times and traffic over seeds. Not committed.
import { createScaleCluster } from '../scale/run.ts'
import { runPartition } from '../scale/partition.ts'
import { hash32 } from '../../membership/hash.ts'

const size = Number(process.env.N ?? 250)
const seeds = (process.env.SEEDS ?? '1,2,3,4,5').split(',').map(Number)
for (const seed of seeds) {
  const t0 = performance.now()
  const { cluster, views, traffic } = createScaleCluster({ seed, size, lifeguard: true, joinWithinMs: 10_000 })
  const runUntil = (done: () => boolean, maxMs: number, everyMs = 250): number | undefined => {
    const start = cluster.now
    let lastDiag = cluster.now
    while (!done()) {
      if (process.env.DIAG != null && views.side != null && cluster.now - lastDiag >= 5000) {
        lastDiag = cluster.now
        diag()
      }
      if (cluster.now - start >= maxMs) return undefined
      cluster.runFor(everyMs)
    }
    return cluster.now - start
  }
  const diag = (): void => {
    const side = views.side!
    const n = views.n
    for (const s of [0, 1]) {
      const others = [...Array(n).keys()].filter(i => side[i] === 1 - s).length
      const lag: string[] = []
      for (let o = 0; o < n; o++) {
        if (side[o] !== s || views.crossPartitioned[o] === others) continue
        const c = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        for (let a = 0; a < n; a++) if (side[a] === 1 - s) c[views.status[o * n + a]]++
        lag.push(`${o}:a${c[1]}/s${c[2]}/f${c[3]}/p${c[11]}`)
      }
      const health = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
      for (let o = 0; o < n; o++) if (side[o] === s) health[cluster.core(views.ids[o]).stats().localHealth]++
      if (s === 1 && lag.length > 0) {
        // majority members alive in the first lagging view: where they sit on the ring
        const o = [...Array(n).keys()].find(i => side[i] === 1 && views.crossPartitioned[i] !== others)!
        const ring = [...Array(n).keys()].sort((x, y) => hash32(views.ids[x]) - hash32(views.ids[y]))
        const parts: string[] = []
        for (const a of ring) {
          if (side[a] !== 0 || views.status[o * n + a] !== 1) continue
          let k = ring.indexOf(a)
          let run = 0
          let susp = 0
          for (;;) { k = (k - 1 + n) % n; const b = ring[k]; if (side[b] === 1) break; const st = views.status[o * n + b]; if (st === 1 || st === 2) { run++; if (st === 2) susp++ } }
          const p = ring[k]
          parts.push(`${a}<-run${run}(s${susp})<-${p}(h${cluster.core(views.ids[p]).stats().localHealth})`)
        }
        console.log('    alive: ' + parts.join(' '))
      }
      console.log(`  t+${((cluster.now - cutAt) / 1000).toFixed(0)} side ${s}: health ${health.join(',')}; ${lag.length} lagging ${lag.slice(0, 6).join(' ')}`)
    }
  }
  let cutAt = 0
  cluster.start()
  runUntil(() => views.converged(), 600_000, 500)
  cluster.runFor(20_000)
  const before = traffic.snapshot()
  const syncs0 = views.ids.reduce((s, id) => s + cluster.core(id).stats().syncsSent, 0)
  const digests0 = views.ids.reduce((s, id) => s + cluster.core(id).stats().digestsSent, 0)
  const simAt = cluster.now
  cutAt = cluster.now
  const r = runPartition({ cluster, views, loss: 0.01, runUntil, runFor: ms => cluster.runFor(ms) })
  const after = traffic.snapshot()
  const syncs = views.ids.reduce((s, id) => s + cluster.core(id).stats().syncsSent, 0) - syncs0
  const digests = views.ids.reduce((s, id) => s + cluster.core(id).stats().digestsSent, 0) - digests0
  const secs = (cluster.now - simAt) / 1000
  const bytes = after.bytes - before.bytes
  console.log(`N=${size} seed=${seed} majority ${r.majorityDoneMs} minority ${r.minorityDoneMs} healed ${r.healedMs} missing ${r.majorityMissing}/${r.minorityMissing} | ${secs.toFixed(0)} s sim, ${(bytes / size / secs).toFixed(0)} B/member/s, syncs ${syncs}, digests ${digests} | wall ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}
