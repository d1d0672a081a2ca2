/**
 * How soon a frozen member is suspected and failed, in the simulator with the
 * real membership core: N members (lan profile, no loss, 1-3 ms latency) settle
 * for a minute, then a random member is frozen (SIGSTOP: silent, its sockets
 * open) at a random moment; one run per seed. Prints the mean, 90th percentile
 * and worst of the first suspicion (by anyone) and of `failed` in every view.
 * `--no-turns`: the members have no shared clock, so they probe in rounds of
 * their own (membership/probe-turns.ts). docs/scale.md, "Probe turns".
 *
 *   node bench/freeze-detection.ts [N=10] [RUNS=200] [--no-turns]
 */
import { SimCluster, type ObservedEvent } from '../testkit/sim/cluster.ts'
import { mean } from './stats.ts'

const [n, runs] = process.argv.slice(2).filter(a => !a.startsWith('--')).map(Number)
const N = n ?? 10
const RUNS = runs ?? 200
const turns = !process.argv.includes('--no-turns')
const firsts: number[] = []
const failedByAll: number[] = []
for (let seed = 1; seed <= RUNS; seed++) {
  const cluster = new SimCluster({ seed, size: N, profile: 'lan', lossRate: 0, latencyMs: { min: 1, max: 3 }, recordEvents: false, clockSkewMs: () => turns ? 0 : undefined })
  let frozenAt = Infinity
  let victim = ''
  let first: number | undefined
  const failedBy = new Set<string>()
  cluster.onEvent((e: ObservedEvent) => {
    if (e.event.member.id !== victim || e.at < frozenAt) return
    if (first == null && (e.event.type === 'member:suspect' || e.event.type === 'member:failed')) first = e.at - frozenAt
    if (e.event.type === 'member:failed') failedBy.add(e.observer)
  })
  cluster.start()
  if (cluster.runUntil(() => cluster.upIds().length === N && cluster.converged(), 60_000) == null) throw new Error(`seed ${seed}: no convergence`)
  cluster.runFor(60_000 + Math.floor(cluster.random() * 1000))
  victim = cluster.upIds()[1 + Math.floor(cluster.random() * (N - 1))]
  frozenAt = cluster.now
  cluster.freeze(victim)
  const took = cluster.runUntil(() => failedBy.size >= N - 1, 60_000, 10)
  if (first == null || took == null) throw new Error(`seed ${seed}: ${victim} not failed everywhere within 60 s`)
  firsts.push(first)
  failedByAll.push(took)
}
const summary = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b)
  const sec = (ms: number): string => (ms / 1000).toFixed(2)
  return `mean ${sec(mean(s))} / p90 ${sec(s[Math.floor(s.length * 0.9)])} / worst ${sec(s[s.length - 1])} s`
}
console.log(`${N} members, ${RUNS} freezes, ${turns ? 'probe turns' : 'rounds of their own'}`)
console.log(`  first suspicion: ${summary(firsts)}`)
console.log(`  failed by all:   ${summary(failedByAll)}`)
