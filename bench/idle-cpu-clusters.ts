/**
 * Whether an idle agent's CPU grows with its cluster or with the machine (a
 * diagnostic, not a benchmark): launches CLUSTERS separate clusters of SIZE
 * agents of the bundle at once (each joining its own first agent), waits
 * until every view of every cluster is full and then SETTLE_MS, and prints
 * each agent's CPU over IDLE_MS (user + system, /proc/PID/stat) and how
 * often its main thread woke, per cluster and in all. 10 clusters of 10
 * load the machine with as many processes as one cluster of 100 does, with
 * an agent's work that of a cluster of 10: what differs from one cluster of
 * 100 is what the cluster's size costs.
 * docs/scale.md says what it found.
 *
 * CLUSTERS=10 SIZE=10 SETTLE_MS=60000 IDLE_MS=120000 AGENT_ENTRY=agent/bin.js AGENT_PREFER_BUNDLE=1
 * COUNT_CALLBACKS=DIR: the last five agents of each cluster count what their
 * event loops run (bench/callback-counter.mjs; read with
 * `node bench/callback-report.mjs DIR`); their CPU then counts the stacks taken.
 */
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { cpuTimes, wakeUps } from './proc.ts'
import { mean, median } from './stats.ts'
import { ClusterViews } from './views.ts'
import { warmUp } from './warm-up.ts'
import { freePort, killAll, startAllAtOnce, type AgentProcess, type StartOptions } from '../test/integration/harness.ts'

const clusters = Number(process.env.CLUSTERS ?? 10)
const size = Number(process.env.SIZE ?? 10)
const settleMs = Number(process.env.SETTLE_MS ?? 60_000)
const idleMs = Number(process.env.IDLE_MS ?? 120_000)
const convergeTimeoutMs = 180_000
const countCallbacks = process.env.COUNT_CALLBACKS
/** How many agents of each cluster count their callbacks (the last ones: not the seed). */
const COUNTED = 5
const counting = countCallbacks == null
  ? undefined
  : { NODE_OPTIONS: `--import ${fileURLToPath(new URL('./callback-counter.mjs', import.meta.url))}`, CALLBACK_COUNT_DIR: countCallbacks }

/** An agent's CPU seconds and main-thread wake-ups so far, read together. */
async function sample (a: AgentProcess): Promise<{ cpuS: number, wakeUps: number }> {
  const [{ userS, systemS }, woken] = await Promise.all([cpuTimes(a.child.pid!), wakeUps(a.child.pid!)])
  return { cpuS: userS + systemS, wakeUps: woken }
}

await warmUp()
const agents: AgentProcess[] = []
const views = Array.from({ length: clusters }, () => new ClusterViews(size))
const seeds = await Promise.all(views.map(async () => `/ip4/127.0.0.1/tcp/${await freePort()}`))
const launches: Array<StartOptions & { cluster: number }> = []
for (let c = 0; c < clusters; c++) {
  for (let i = 0; i < size; i++) {
    launches.push({
      cluster: c, name: `c${c + 1}s${i + 1}`, listen: i === 0 ? [seeds[c]] : undefined, join: i === 0 ? [] : [seeds[c]], startTimeoutMs: convergeTimeoutMs,
      env: i >= size - COUNTED ? counting : undefined
    })
  }
}
const clusterOf = new Map(launches.map(l => [l.name, l.cluster]))
const t0 = performance.now()
try {
  await startAllAtOnce(launches, agents, async a => { await views[clusterOf.get(a.name)!].watch(a) })
  while (performance.now() < t0 + convergeTimeoutMs && views.some(v => v.fullAt == null)) await sleep(1000)
  const full = views.filter(v => v.fullAt != null).length
  if (full < clusters) throw new Error(`${full} of ${clusters} clusters with every view full after ${convergeTimeoutMs / 1000} s`)
  const lastFull = Math.max(...views.map(v => v.fullAt!))
  console.log(`${clusters} × ${size}: every view full ${((lastFull - t0) / 1000).toFixed(1)} s after launch; CPU over ${idleMs / 1000} s from ${settleMs / 1000} s later`)
  await sleep(settleMs)
  const before = await Promise.all(agents.map(sample))
  const tBefore = performance.now()
  await sleep(idleMs)
  const after = await Promise.all(agents.map(sample))
  const seconds = (performance.now() - tBefore) / 1000
  const percent = agents.map((_, i) => (after[i].cpuS - before[i].cpuS) / seconds * 100)
  const wakeUpsPerSec = agents.map((_, i) => (after[i].wakeUps - before[i].wakeUps) / seconds)
  for (let c = 0; c < clusters; c++) {
    const mine = percent.filter((_, i) => clusterOf.get(agents[i].name) === c)
    console.log(`cluster ${c + 1}: idle CPU per agent ${mean(mine).toFixed(3)} % of a core (max ${Math.max(...mine).toFixed(3)})`)
  }
  console.log(`all ${agents.length}: mean ${mean(percent).toFixed(3)} %, median ${median(percent).toFixed(3)} %; main thread woken ${mean(wakeUpsPerSec).toFixed(2)} times a second`)
} finally {
  await killAll(agents)
}
