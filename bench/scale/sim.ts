/**
 * `npm run sim:scale`: the membership simulator at scale, with the real core.
 *
 *   npm run sim:scale -- [--sizes 1000,5000,10000] [--seed N] [--losses 0,0.01,0.05]
 *                        [--budget-min 30] [--no-lifeguard-off] [--profile] [--fresh]
 *
 * For each size: a run with Lifeguard (its loss windows, then the 60 | 40
 * partition) and one without (loss windows only). Results accumulate in
 * bench/scale/results.json (a size run again replaces its rows; --fresh
 * starts over) and bench/scale/REPORT.md is rewritten after every run, so
 * a long session keeps what it measured. A size whose N² member records
 * would not fit in the heap is not started; a run past its wall-clock
 * budget stops and reports how far it got. SIM_SEED=<n> also sets the seed;
 * `--sizes ''` only rewrites the report (with bench/scale/analysis.md).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { getHeapStatistics } from 'node:v8'
import { runScale, type ScaleResult } from './run.ts'
import { writeReport } from './report.ts'

const DIR = dirname(fileURLToPath(import.meta.url))
const RESULTS = join(DIR, 'results.json')
/** Hand-written findings, copied into the report under "Analysis". */
const ANALYSIS = join(DIR, 'analysis.md')
const DEFAULT_SEED = 0x5ca1e
/** Heap per (observer, member) pair assumed before any run measured one: about what the core holds per known member. */
const DEFAULT_BYTES_PER_PAIR = 700

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,5000,10000' },
    seed: { type: 'string' },
    losses: { type: 'string', default: '0,0.01,0.05' },
    'budget-min': { type: 'string', default: '30' },
    'no-lifeguard-off': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    fresh: { type: 'boolean', default: false },
    force: { type: 'boolean', default: false }
  }
})

const seed = Number(values.seed ?? process.env.SIM_SEED ?? DEFAULT_SEED)
const sizes = values.sizes.split(',').filter(x => x !== '').map(Number)
const lossRates = values.losses.split(',').map(Number)
const budgetMs = Number(values['budget-min']) * 60_000

interface Saved {
  results: ScaleResult[]
  notRun: Array<{ size: number, reason: string }>
}

const saved: Saved = !values.fresh && existsSync(RESULTS)
  ? JSON.parse(readFileSync(RESULTS, 'utf8')) as Saved
  : { results: [], notRun: [] }

function save (): void {
  writeFileSync(RESULTS, JSON.stringify(saved, null, 1) + '\n')
  const cpu = cpus()
  writeReport(saved.results, {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GB`,
    node: `Node ${process.version}`,
    command: `npm run sim:scale -- ${process.argv.slice(2).join(' ')}`.trim(),
    seed,
    notRun: saved.notRun,
    analysis: existsSync(ANALYSIS) ? readFileSync(ANALYSIS, 'utf8') : undefined
  }, DIR)
}

/**
 * Wall time a run at `size` would take, from the two largest complete runs
 * (Lifeguard on) on a log-log line: the measured growth, not an assumed one.
 */
function projectedWall (size: number): { ms: number, exponent: number, sizes: number[] } | undefined {
  const done = saved.results
    .filter(r => r.options.lifeguard && r.aborted == null && r.options.size < size)
    .sort((a, b) => b.options.size - a.options.size)
  if (done.length < 2 || done[0].options.size === done[1].options.size) return undefined
  const wall = (r: ScaleResult): number => Object.values(r.wall).reduce((a, b) => a + b, 0)
  const [big, small] = done
  const exponent = Math.log(wall(big) / wall(small)) / Math.log(big.options.size / small.options.size)
  return { ms: wall(big) * (size / big.options.size) ** exponent, exponent, sizes: [small.options.size, big.options.size] }
}

function duration (ms: number): string {
  return ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`
}

/** Heap per (observer, member) pair, as measured by the largest run so far. */
function bytesPerPair (): { bytes: number, from?: number } {
  const measured = saved.results.filter(r => r.heapMb > 0).sort((a, b) => b.options.size - a.options.size)[0]
  if (measured == null) return { bytes: DEFAULT_BYTES_PER_PAIR }
  return { bytes: measured.heapMb * 1e6 / measured.options.size ** 2, from: measured.options.size }
}

const heapLimit = getHeapStatistics().heap_size_limit
console.log(`seed ${seed}; replay: npm run sim:scale -- --seed ${seed} --sizes ${sizes.join(',')} --losses ${lossRates.join(',')}`)
for (const size of sizes) {
  saved.notRun = saved.notRun.filter(n => n.size !== size)
  const { bytes, from } = bytesPerPair()
  const need = bytes * size ** 2
  const memory = `${size.toLocaleString('en-US')}² views need about ${(need / 1e9).toFixed(1)} GB of heap ` +
    `(${Math.round(bytes)} bytes per member a core knows, ${from == null ? 'assumed' : `measured at N = ${from.toLocaleString('en-US')}`}); ` +
    `the heap limit is ${(heapLimit / 1e9).toFixed(0)} GB on this ${Math.round(totalmem() / 2 ** 30)} GB machine`
  const wall = projectedWall(size)
  const time = wall == null
    ? undefined
    : `a run would take about ${duration(wall.ms)} of wall clock per Lifeguard setting (wall time grows as N^${wall.exponent.toFixed(2)} ` +
      `from N = ${wall.sizes.map(n => n.toLocaleString('en-US')).join(' to ')}), past the ${values['budget-min']} min budget`
  const blocked = [need > 0.9 * heapLimit ? memory : undefined, wall != null && wall.ms > budgetMs ? time : undefined].filter(x => x != null)
  if (blocked.length > 0 && !values.force) {
    const reason = `not started (--force starts it anyway): ${blocked.join('; and ')}`
    console.log(`N = ${size}: ${reason}`)
    saved.notRun.push({ size, reason })
    save()
    continue
  }
  for (const lifeguard of values['no-lifeguard-off'] ? [true] : [true, false]) {
    console.log(`N = ${size}, Lifeguard ${lifeguard ? 'on' : 'off'}, seed ${seed}`)
    const started = performance.now()
    const result = runScale({
      seed,
      size,
      lifeguard,
      lossRates,
      slowFraction: 0.01,
      crashes: 8,
      crashEveryMs: 10_000,
      updates: 3,
      updateEveryMs: 5000,
      trafficMs: 10_000,
      joinWithinMs: 10_000,
      partition: lifeguard,
      wallBudgetMs: budgetMs,
      profile: values.profile,
      log: line => { console.log(line) }
    })
    console.log(`  ${((performance.now() - started) / 60_000).toFixed(1)} min wall${result.aborted == null ? '' : `; stopped: ${result.aborted}`}`)
    saved.results = saved.results.filter(r => !(r.options.size === size && r.options.lifeguard === lifeguard))
    saved.results.push(result)
    save()
  }
}
console.log(`wrote ${join(DIR, 'REPORT.md')}`)
