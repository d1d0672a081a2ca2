/**
 * `npm run bench:scale`: real agents at several cluster sizes (default 10,
 * 25, 50 and 100), each launched all at once; see bench/scale-run.ts for one
 * run and bench/scale-report.ts for the report (bench/RESULTS.md, section
 * "Scale (real agents)").
 *
 * BENCH_SCALE_SIZES=10,25  sizes to run
 * BENCH_RUNS=1             runs per size (each holds an idle window)
 * BENCH_IDLE_MS=300000     idle window per run
 * BENCH_SCALE_SEEDS=1      how many of the first agents the others join
 * BENCH_CONVERGE_TIMEOUT_MS=120000, BENCH_DETECT_TIMEOUT_MS=60000
 * BENCH_SCALE_REPORT_ONLY=1  only write the report again from bench/scale-results.json
 * BENCH_SCALE_NOTE=...    a note kept with each size measured (e.g. what else ran)
 * BENCH_MAX_LOAD=1.5       before each run, wait (up to BENCH_LOAD_WAIT_MS,
 *                          default 5 min) for the 1-minute load average to
 *                          fall below this: other work on the machine, or the
 *                          previous run's agents, would skew the figures
 */
import { execFileSync } from 'node:child_process'
import { cpus, loadavg, totalmem } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { MAIN } from '../test/integration/harness.ts'
import { warmUp } from './warm-up.ts'
import { killLive, runScale, type ScaleOptions } from './scale-run.ts'
import { loadEntries, renderSection, saveEntries, writeResultsMd, RESULTS_MD, type SizeEntry } from './scale-report.ts'

const env = (name: string, fallback: number): number => {
  const raw = process.env[name]
  const value = raw == null || raw === '' ? fallback : Number(raw)
  if (!Number.isFinite(value) || value < 0) {
    console.error(`${name} must be a non-negative number, got "${raw}"`)
    process.exit(2)
  }
  return value
}

const sizes = (process.env.BENCH_SCALE_SIZES ?? '10,25,50,100').split(',').map(s => Number(s.trim()))
if (sizes.some(n => !Number.isInteger(n) || n < 3)) {
  console.error(`BENCH_SCALE_SIZES must be integers of at least 3 (a kill, a stop and a witness), got "${process.env.BENCH_SCALE_SIZES}"`)
  process.exit(2)
}
const runs = env('BENCH_RUNS', 1)
const options: ScaleOptions = {
  seeds: Math.max(1, env('BENCH_SCALE_SEEDS', 1)),
  convergeTimeoutMs: env('BENCH_CONVERGE_TIMEOUT_MS', 120_000),
  settleMs: 10_000,
  idleMs: env('BENCH_IDLE_MS', 300_000),
  detectTimeoutMs: env('BENCH_DETECT_TIMEOUT_MS', 60_000)
}
const maxLoad = env('BENCH_MAX_LOAD', 1.5)
const loadWaitMs = env('BENCH_LOAD_WAIT_MS', 300_000)
const log = (line: string): void => { console.error(line) }

if (process.env.BENCH_SCALE_REPORT_ONLY === '1') {
  // Writes the report again from bench/scale-results.json, measuring nothing.
  await writeResultsMd(renderSection(await loadEntries()))
  log(`written to ${RESULTS_MD}`)
  process.exit(0)
}

if (process.env.AGENT_ENTRY == null) log('AGENT_ENTRY is not set: measuring the TypeScript sources, not the bundle (npm run bench:scale sets it)')

// Each agent holds a connection to nearly every other, and this process two
// pipes and an event stream per agent: the open-file limit must allow for it.
const fileLimit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim())
const needed = 4 * Math.max(...sizes) + 256
if (Number.isFinite(fileLimit) && fileLimit < needed) {
  log(`ulimit -n is ${fileLimit}; ${Math.max(...sizes)} agents need about ${needed}: raise it (ulimit -n ${needed}) and run again`)
  process.exit(2)
}

async function waitForQuiet (): Promise<number[]> {
  const end = Date.now() + loadWaitMs
  while (loadavg()[0] > maxLoad && Date.now() < end) {
    log(`  load average ${loadavg()[0].toFixed(2)} > ${maxLoad}: waiting`)
    await sleep(15_000)
  }
  return loadavg().map(l => Math.round(l * 100) / 100)
}

/** The commit, and the agent's source files that differ from it: the bundle is built from the working tree. */
function project (): string {
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: new URL('..', import.meta.url) }).toString()
  try {
    // Porcelain lines are "XY path": two status columns, a space, the path.
    const changed = git('status', '--porcelain', '--', 'agent', 'gossip', 'membership', 'workloads').split('\n').filter(l => l.length > 3).map(l => l.slice(3))
    return `${git('rev-parse', '--short', 'HEAD').trim()}${changed.length > 0 ? ` with uncommitted changes to ${changed.join(', ')}` : ''}`
  } catch {
    return '?'
  }
}

/** Read once, at the start: `npm run bench:scale` built the bundle just before, and sources edited during the run are not in it. */
const builtFrom = project()
const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GB`
const entry = process.env.AGENT_ENTRY != null
  ? `${process.env.AGENT_ENTRY}${process.env.AGENT_PREFER_BUNDLE != null ? ' → dist/agent.cjs' : ''}`
  : 'agent/main.ts (sources)'


for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => { killLive(); process.exit(130) })
}

await warmUp()

const entries = await loadEntries()
for (const n of sizes) {
  const sizeEntry: SizeEntry = {
    n,
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    node: process.version,
    machine,
    entry,
    project: builtFrom,
    seeds: options.seeds,
    idleMs: options.idleMs,
    convergeTimeoutMs: options.convergeTimeoutMs,
    loads: [],
    runs: [],
    errors: [],
    note: process.env.BENCH_SCALE_NOTE
  }
  for (let i = 0; i < runs; i++) {
    const loads = await waitForQuiet()
    log(`${n} agents, run ${i + 1}/${runs} (load average ${loads.join(' / ')}; ${MAIN})`)
    try {
      const run = await runScale(n, options, log)
      sizeEntry.runs.push(run)
      sizeEntry.loads.push(loads)
      log(`  ${JSON.stringify(run)}`)
    } catch (err) {
      sizeEntry.errors.push((err as Error).message.split('\n')[0])
      log(`  run failed: ${(err as Error).stack ?? String(err)}`)
    }
  }
  // Saved after each size, so that an interrupted run of several keeps what it measured.
  entries.set(n, sizeEntry)
  await saveEntries(entries)
  await writeResultsMd(renderSection(entries))
}

console.log(renderSection(entries))
log(`\nwritten to ${RESULTS_MD}`)
process.exit(0)
