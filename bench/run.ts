/**
 * `npm run bench`: runs each benchmark BENCH_RUNS times and prints a Markdown
 * table of medians (with min and max) against the targets: the membership
 * bench (default 5 runs), the footprint bench (default 3 runs), then the
 * work-claims bench (default 3 runs), then the services bench (default 3
 * runs), then the observability bench (default 5 runs: what it measures is
 * a few per cent). BENCH_ONLY=membership, footprint, jobs, services or
 * observability runs one of them alone.
 */
import { runMembershipBench, type MembershipRun } from './membership.ts'
import { runFootprintBench } from './footprint.ts'
import { NOOP_SLOTS, NOOP_TASKS, PRIMES_INPUT, runJobsBench, type JobsRun } from './jobs.ts'
import { runServicesBench, type ServicesRun } from './services.ts'
import { runIdleCostBench, runScrapeBench, type IdleCostRun, type Role } from './observability.ts'
import { mean, median } from './stats.ts'
import { warmUp } from './warm-up.ts'
import { execFileSync } from 'node:child_process'
import { DENO } from '../test/integration/harness.ts'

const only = process.env.BENCH_ONLY ?? ''
if (only !== '' && !['membership', 'footprint', 'jobs', 'services', 'observability'].includes(only)) {
  console.error(`BENCH_ONLY must be membership, footprint, jobs, services or observability, got "${only}"`)
  process.exit(2)
}
const runs = (fallback: number): number => Number(process.env.BENCH_RUNS ?? fallback)
const date = new Date().toISOString().slice(0, 10)
const denoVersion = (): string => /deno (\S+)/.exec(execFileSync(DENO, ['--version']).toString())?.[1] ?? '?'

interface Row { key: keyof MembershipRun, label: string, unit: string, target: string, serf: string }
const ROWS: Row[] = [
  // Targets: the membership issue's, then "Flat cost per member"'s at 10 agents where it asks for more (convergence, idle cost).
  { key: 'convergeMs', label: '10 agents converge after launch', unit: 'ms', target: '< 1000', serf: '260–450' },
  { key: 'killFirstDetectMs', label: 'kill -9 → first detection', unit: 'ms', target: '', serf: '' },
  { key: 'killAllFailedMs', label: 'kill -9 → failed by all', unit: 'ms', target: '< 3000', serf: '6000' },
  { key: 'stopFirstDetectMs', label: 'kill -STOP → first detection', unit: 'ms', target: '', serf: '' },
  { key: 'stopAllFailedMs', label: 'kill -STOP → failed by all', unit: 'ms', target: '< 6000', serf: '6000' },
  { key: 'resumeAllAliveMs', label: 'kill -CONT → alive everywhere', unit: 'ms', target: '< 1000', serf: '200' },
  { key: 'leaveAllSeenMs', label: 'leave → left everywhere', unit: 'ms', target: '< 1000', serf: '850' },
  { key: 'idleRssMb', label: 'idle RSS per agent (settled)', unit: 'MB', target: '< 70', serf: '14.5' },
  { key: 'idleCpuPercent', label: 'idle CPU per agent (settled)', unit: '% core', target: '< 0.5', serf: '0.2' },
  { key: 'idleBytesPerSec', label: 'idle traffic per agent (in + out, settled)', unit: 'B/s', target: '< 500', serf: '' },
  { key: 'falseFailures', label: 'false failures per run', unit: '', target: '0', serf: '' }
]

await warmUp()

if (only === '' || only === 'membership') {
  const n = runs(5)
  const results: MembershipRun[] = []
  for (let i = 0; i < n; i++) {
    const result = await runMembershipBench(10)
    results.push(result)
    console.error(`run ${i + 1}/${n}: ${JSON.stringify(result)}`)
  }

  console.log(`\nMembership, 10 agents, lan profile, loopback; idle: every agent over 60 s from 65 s after convergence; ${n} runs; ${date}; Node ${process.version}\n`)
  console.log('| measure | median | min–max | target | Serf 0.9.4 |')
  console.log('|---|---|---|---|---|')
  for (const row of ROWS) {
    const values = results.map(r => r[row.key])
    const unit = row.unit === '' ? '' : ` ${row.unit}`
    console.log(`| ${row.label} | ${median(values)}${unit} | ${Math.min(...values)}–${Math.max(...values)} | ${row.target} | ${row.serf} |`)
  }
}

if (only === '' || only === 'footprint') {
  const n = runs(3)
  const results = await runFootprintBench(n)
  const entry = process.env.AGENT_ENTRY ?? 'agent/main.ts (sources)'
  const denoEntry = process.env.DENO_AGENT_ENTRY ?? 'deno-compat/main.ts (sources)'
  console.log(`\nFootprint: idle RSS of one agent in a settled 5-agent cluster (the other four: Node, lan), loopback; ${n} runs; ${date}; Node ${process.version} running ${entry}; Deno ${denoVersion()} running ${denoEntry} unless the row says otherwise\n`)
  console.log('| measured agent | median RSS | min–max | target | met |')
  console.log('|---|---|---|---|---|')
  for (const { variant, values } of results) {
    const m = median(values)
    const target = variant.targetMb == null ? '' : `< ${variant.targetMb} MB`
    const met = variant.targetMb == null ? '' : m < variant.targetMb ? 'yes' : 'no'
    console.log(`| ${variant.label} | ${m} MB | ${Math.min(...values)}–${Math.max(...values)} | ${target} | ${met} |`)
  }
}
if (only === '' || only === 'jobs') {
  const n = runs(3)
  const results: JobsRun[] = []
  for (let i = 0; i < n; i++) {
    const result = await runJobsBench()
    results.push(result)
    console.error(`jobs run ${i + 1}/${n}: ${JSON.stringify(result)}`)
  }
  const row = (label: string, key: keyof JobsRun, unit: string, target: string, met?: (m: number) => boolean): string => {
    const values = results.map(r => r[key])
    const m = median(values)
    return `| ${label} | ${m}${unit} | ${Math.min(...values)}–${Math.max(...values)} | ${target} | ${met == null ? '' : met(m) ? 'yes' : 'no'} |`
  }
  console.log(`\nWork claims, lan profile, loopback; ${n} runs; ${date}; Node ${process.version}\n`)
  console.log('| measure | median | min–max | target | met |')
  console.log('|---|---|---|---|---|')
  console.log(row(`no-op tasks through 5 agents (${NOOP_TASKS} × sleep 0 ms, --slots ${NOOP_SLOTS})`, 'noopTasksPerSec', ' tasks/s', '≥ 1000', m => m >= 1000))
  console.log(row(`primes ${JSON.stringify(PRIMES_INPUT)} on 1 agent (--slots 1)`, 'primes1AgentMs', ' ms', ''))
  console.log(row('the same on 2 agents (--slots 1 each)', 'primes2AgentsMs', ' ms', ''))
  console.log(row('speed-up, 2 agents vs 1', 'speedup', '×', '≥ 1.7', m => m >= 1.7))
  console.log(row('the machine\'s ceiling: 2 threads vs 1, no agent', 'machineSpeedup', '×', ''))
}
if (only === '' || only === 'services') {
  const n = runs(3)
  const results: ServicesRun[] = []
  for (let i = 0; i < n; i++) {
    const result = await runServicesBench()
    results.push(result)
    console.error(`services run ${i + 1}/${n}: ${JSON.stringify(result)}`)
  }
  const row = (label: string, key: keyof ServicesRun, targetMs: number): string => {
    const values = results.map(r => Math.round(r[key]))
    const m = median(values)
    return `| ${label} | ${m} ms | ${Math.min(...values)}–${Math.max(...values)} | < ${targetMs} ms | ${m < targetMs ? 'yes' : 'no'} |`
  }
  console.log(`\nServices, 5 agents, lan profile, loopback, until the new instance's first line; ${n} runs; ${date}; Node ${process.version}\n`)
  console.log('| measure | median | min–max | target | met |')
  console.log('|---|---|---|---|---|')
  console.log(row('singleton failover after kill -9 of its holder', 'singletonKillMs', 2000))
  console.log(row('singleton failover after SIGSTOP of its holder', 'singletonStopMs', 10_000))
  console.log(row('replica recovery after kill -9 of one of 3', 'replicaKillMs', 2000))
}
if (only === '' || only === 'observability') {
  const n = runs(5)
  const scrape = await runScrapeBench(100)
  const results: IdleCostRun[] = []
  for (let i = 0; i < n; i++) {
    const result = await runIdleCostBench(i)
    results.push(result)
    console.error(`observability run ${i + 1}/${n}: ${JSON.stringify(result)}`)
  }
  const round = (x: number): number => Math.round(x * 100) / 100
  const pct = (ratio: number): string => `${ratio >= 1 ? '+' : ''}${Math.round((ratio - 1) * 1000) / 10} %`
  /** `target` true: at most +5 %; a string: no target, what the row is instead. Each run compares the means of its agents over one window: the median of those ratios. */
  const row = (label: string, unit: string, measure: keyof IdleCostRun, on: Role, target: true | string = true): string => {
    const ratio = median(results.map(r => mean(r[measure][on]) / mean(r[measure].off)))
    const value = (role: Role): number => round(median(results.map(r => mean(r[measure][role]))))
    return `| ${label} | ${value('off')} → ${value(on)} ${unit} (${pct(ratio)}) | ${target === true ? `≤ +5 % | ${ratio <= 1.05 ? 'yes' : 'no'}` : `${target} | `} |`
  }
  // The noise: how far the three agents with none of it lie apart in a run, as a share of their mean.
  const spread = median(results.map(r => (Math.max(...r.cpuPercent.off) - Math.min(...r.cpuPercent.off)) / mean(r.cpuPercent.off)))
  console.log(`\nObservability, lan profile, loopback; idle: seven agents of one 9-agent cluster over the same 120 s from 65 s after it settled (three with none of it, three with all of it on, one of those scraped), started in an order rotated each run (medians of each run's means; a change is the median of each run's ratio of means), ${n} runs; ${date}; Node ${process.version}\n`)
  console.log('| measure | value | target | met |')
  console.log('|---|---|---|---|')
  console.log(`| scrape of /metrics, 100-member view (median; p99), ${Math.round(scrape.bytes / 1024)} KiB | ${scrape.medianMs} ms; ${scrape.p99Ms} ms | < 20 ms | ${scrape.p99Ms < 20 ? 'yes' : 'no'} |`)
  console.log(`| idle CPU, the three with none of it: highest − lowest, of their mean | ${Math.round(spread * 1000) / 10} % | (noise) |  |`)
  console.log(row('idle RSS, none of it used → all on (JSON logs, monitor connected, metrics built)', 'MB', 'rssMb', 'on'))
  console.log(row('idle CPU, the same', '% core', 'cpuPercent', 'on'))
  console.log(row('idle RSS, none used → all on and scraped every 15 s', 'MB', 'rssMb', 'scraped'))
  // Not idle: each scrape is a request, paid cold (docs/observability.md); its own target is the scrape row's.
  console.log(row('CPU, the same (not idle: what the scrapes cost)', '% core', 'cpuPercent', 'scraped', '(scrapes: < 20 ms each)'))
}
process.exit(0)
