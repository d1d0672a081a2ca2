/**
 * Where an idle agent's memory goes at N agents (a diagnostic, not a
 * benchmark): launches N agents of the bundle at once (all joining the
 * first, as bench:scale does), waits until every view is full and then
 * IDLE_MS, and prints for six agents spread over the cluster their RSS
 * (anonymous and file pages, /proc/PID/status), V8's heap by space and
 * external memory (from /metrics) and their connections. docs/scale.md says
 * what it found.
 *
 * N=100  IDLE_MS=90000  AGENT_ENTRY=agent/bin.js AGENT_PREFER_BUNDLE=1
 * HEAP_SNAPSHOT_DIR=DIR: the first of the six writes a heap snapshot there
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { residentMb } from './proc.ts'
import { ClusterViews } from './views.ts'
import { warmUp } from './warm-up.ts'
import { freePort, killAll, startAllAtOnce, type AgentProcess } from '../test/integration/harness.ts'

const n = Number(process.env.N ?? 10)
const idleMs = Number(process.env.IDLE_MS ?? 90_000)
const snapshotDir = process.env.HEAP_SNAPSHOT_DIR
const env: Record<string, string> = snapshotDir == null ? {} : { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshotDir}` }

/** A gauge of a Prometheus exposition, in MiB. */
function mib (metrics: string, name: string, labels = ''): number {
  const line = metrics.split('\n').find(l => l.startsWith(`${name}${labels} `))
  return line == null ? NaN : Number(line.split(' ')[1]) / 1048576
}

await warmUp()
const agents: AgentProcess[] = []
const views = new ClusterViews(n)
const seed = `/ip4/127.0.0.1/tcp/${await freePort()}`
const t0 = performance.now()
try {
  await startAllAtOnce(Array.from({ length: n }, (_, i) => ({
    name: `s${i + 1}`, listen: i === 0 ? [seed] : undefined, join: i === 0 ? [] : [seed], startTimeoutMs: 150_000, env
  })), agents, async a => { await views.watch(a) })
  while (performance.now() < t0 + 150_000 && views.fullAt == null) await sleep(1000)
  if (views.fullAt == null) throw new Error(`not every view full after 150 s: ${views.fullCount} of ${n}`)
  console.log(`N=${n}: every view full ${((views.fullAt - t0) / 1000).toFixed(1)} s after launch; figures after ${idleMs / 1000} s idle (MiB)`)
  await sleep(idleMs)
  const sample = agents.filter((_, i) => i > 0 && i % Math.max(1, Math.floor(n / 6)) === 0).slice(0, 6)
  const rows: Array<Record<string, number>> = []
  for (const a of sample) {
    const resident = await residentMb(a.child.pid!)
    const metrics = await (await fetch(`http://${a.rpc}/metrics`)).text()
    const stats = await (await fetch(`http://${a.rpc}/v1/stats`)).json() as { transport: { connections: number } }
    rows.push({
      ...resident,
      heapTotal: mib(metrics, 'nodejs_heap_size_total_bytes'),
      heapUsed: mib(metrics, 'nodejs_heap_size_used_bytes'),
      oldSpace: mib(metrics, 'nodejs_heap_space_size_total_bytes', '{space="old"}'),
      codeSpace: mib(metrics, 'nodejs_heap_space_size_total_bytes', '{space="code"}'),
      external: mib(metrics, 'nodejs_external_memory_bytes'),
      connections: stats.transport.connections
    })
  }
  for (const key of Object.keys(rows[0])) {
    const values = rows.map(r => r[key])
    console.log(`${key.padEnd(12)} ${values.map(v => v.toFixed(1).padStart(6)).join(' ')}   mean ${(values.reduce((s, v) => s + v, 0) / values.length).toFixed(1)}`)
  }
  if (snapshotDir != null) {
    process.kill(sample[0].child.pid!, 'SIGUSR2')
    await sleep(15_000) // the snapshot is written synchronously by the agent; give it time before the kill
  }
} finally {
  await killAll(agents)
}
