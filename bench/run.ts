/**
 * `npm run bench`: runs each benchmark BENCH_RUNS times and prints a Markdown
 * table of medians (with min and max) against the targets: the membership
 * bench (default 5 runs), then the footprint bench (default 3 runs).
 * BENCH_ONLY=membership or BENCH_ONLY=footprint runs one of them alone.
 */
import { runMembershipBench, type MembershipRun } from './membership.ts'
import { runFootprintBench } from './footprint.ts'
import { median } from './stats.ts'

const only = process.env.BENCH_ONLY ?? ''
if (only !== '' && only !== 'membership' && only !== 'footprint') {
  console.error(`BENCH_ONLY must be membership or footprint, got "${only}"`)
  process.exit(2)
}
const date = new Date().toISOString().slice(0, 10)

interface Row { key: keyof MembershipRun, label: string, unit: string, target: string, serf: string }
const ROWS: Row[] = [
  { key: 'convergeMs', label: '10 agents converge after launch', unit: 'ms', target: '< 1500', serf: '260–450' },
  { key: 'killFirstDetectMs', label: 'kill -9 → first detection', unit: 'ms', target: '', serf: '' },
  { key: 'killAllFailedMs', label: 'kill -9 → failed by all', unit: 'ms', target: '< 3000', serf: '6000' },
  { key: 'stopFirstDetectMs', label: 'kill -STOP → first detection', unit: 'ms', target: '', serf: '' },
  { key: 'stopAllFailedMs', label: 'kill -STOP → failed by all', unit: 'ms', target: '< 6000', serf: '6000' },
  { key: 'resumeAllAliveMs', label: 'kill -CONT → alive everywhere', unit: 'ms', target: '< 1000', serf: '200' },
  { key: 'leaveAllSeenMs', label: 'leave → left everywhere', unit: 'ms', target: '< 1000', serf: '850' },
  { key: 'idleRssMb', label: 'idle RSS per agent', unit: 'MB', target: '< 100', serf: '14.5' },
  { key: 'idleCpuPercent', label: 'idle CPU per agent', unit: '% core', target: '< 1', serf: '0.2' },
  { key: 'idleBytesPerSec', label: 'idle traffic per agent (in + out)', unit: 'B/s', target: '', serf: '' },
  { key: 'falseFailures', label: 'false failures per run', unit: '', target: '0', serf: '' }
]

if (only !== 'footprint') {
  const runs = Number(process.env.BENCH_RUNS ?? 5)
  const results: MembershipRun[] = []
  for (let i = 0; i < runs; i++) {
    const result = await runMembershipBench(10)
    results.push(result)
    console.error(`run ${i + 1}/${runs}: ${JSON.stringify(result)}`)
  }

  console.log(`\nMembership, 10 agents, lan profile, loopback; ${runs} runs; ${date}; Node ${process.version}\n`)
  console.log('| measure | median | min–max | target | Serf 0.9.4 |')
  console.log('|---|---|---|---|---|')
  for (const row of ROWS) {
    const values = results.map(r => r[row.key])
    const unit = row.unit === '' ? '' : ` ${row.unit}`
    console.log(`| ${row.label} | ${median(values)}${unit} | ${Math.min(...values)}–${Math.max(...values)} | ${row.target} | ${row.serf} |`)
  }
}

if (only !== 'membership') {
  const runs = Number(process.env.BENCH_RUNS ?? 3)
  const results = await runFootprintBench(runs)
  const entry = process.env.AGENT_ENTRY ?? 'agent/main.ts (sources)'
  console.log(`\nFootprint: idle RSS of one agent in a settled 5-agent cluster (the other four: Node, lan), loopback; ${runs} runs; ${date}; Node ${process.version} running ${entry}; Deno running deno-compat/main.ts\n`)
  console.log('| measured agent | median RSS | min–max | target | met |')
  console.log('|---|---|---|---|---|')
  for (const { variant, values } of results) {
    const m = median(values)
    console.log(`| ${variant.label} | ${m} MB | ${Math.min(...values)}–${Math.max(...values)} | < ${variant.targetMb} MB | ${m < variant.targetMb ? 'yes' : 'no'} |`)
  }
}
process.exit(0)
