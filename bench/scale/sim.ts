/**
 * `npm run sim:scale`: the membership simulator at scale, with the real core.
 *
 *   npm run sim:scale -- [--sizes 1000,5000,10000] [--seed N] [--losses 0,0.01,0.05]
 *                        [--budget-min 30] [--no-lifeguard-off] [--profile] [--fresh] [--force]
 *                        [--core-cost 250,1000,2500,5000,10000] [--settled-start] [--no-partition]
 *
 * For each size: a run with Lifeguard (its loss windows, then the 60 | 40
 * partition) and one without (loss windows only). Results accumulate in
 * bench/scale/results.json (a size run again with the same start replaces its rows; --fresh
 * starts over) and bench/scale/REPORT.md is rewritten after every run, so
 * a long session keeps what it measured. A size whose N² member records
 * would not fit in the heap is not started; a run past its wall-clock
 * budget stops and reports how far it got. SIM_SEED=<n> also sets the seed;
 * `--sizes ''` only rewrites the report (with bench/scale/analysis.md);
 * `--core-cost` also measures one core alone at those sizes (core-cost.ts).
 * `--settled-start` creates the members knowing each other instead of
 * simulating their mass join (its N² news is most of a large run);
 * `--no-partition` leaves the partition out.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { getHeapStatistics } from 'node:v8'
import { runScale, type ScaleResult } from './run.ts'
import { writeReport } from './report.ts'
import { measureCoreCosts, type CoreCost } from './core-cost.ts'

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
    force: { type: 'boolean', default: false },
    'core-cost': { type: 'string' },
    'settled-start': { type: 'boolean', default: false },
    'no-partition': { type: 'boolean', default: false }
  }
})

const seed = Number(values.seed ?? process.env.SIM_SEED ?? DEFAULT_SEED)
const sizes = values.sizes.split(',').filter(x => x !== '').map(Number)
const lossRates = values.losses.split(',').map(Number)
const budgetMs = Number(values['budget-min']) * 60_000

interface Saved {
  results: ScaleResult[]
  notRun: Array<{ size: number, reason: string }>
  coreCost?: CoreCost[]
  /** The command of the last run that measured something (a report-only call keeps it). */
  command?: string
}

const saved: Saved = !values.fresh && existsSync(RESULTS)
  ? JSON.parse(readFileSync(RESULTS, 'utf8')) as Saved
  : { results: [], notRun: [] }

const thisCommand = `npm run sim:scale -- ${process.argv.slice(2).join(' ')}`.trim()
if (sizes.length > 0 || values['core-cost'] != null) saved.command = thisCommand

function save (): void {
  writeFileSync(RESULTS, JSON.stringify(saved, null, 1) + '\n')
  const cpu = cpus()
  writeReport(saved.results, {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GB`,
    node: `Node ${process.version}`,
    command: saved.command ?? thisCommand,
    seed,
    notRun: saved.notRun,
    coreCost: saved.coreCost,
    analysis: existsSync(ANALYSIS) ? readFileSync(ANALYSIS, 'utf8') : undefined
  }, DIR)
}

/**
 * Wall time a run at `size` would take: the wall clock per simulated second
 * of the 1 % window at the two largest sizes that ran it, on a log-log line
 * (the measured growth, not an assumed one), times the simulated length of
 * the longest complete run.
 */
function projectedWall (size: number): { ms: number, exponent: number, sizes: number[], simulatedMs: number } | undefined {
  const rates = saved.results
    .filter(r => r.options.lifeguard && r.options.size < size && r.wall['window 1%'] != null)
    .flatMap(r => {
      const w = r.windows.find(x => x.loss === 0.01)
      return w == null ? [] : [{ size: r.options.size, rate: r.wall['window 1%'] / w.simMs }]
    })
    .sort((a, b) => b.size - a.size)
  const simulatedMs = Math.max(0, ...saved.results.filter(r => r.aborted == null).map(r => r.simulatedMs))
  if (rates.length < 2 || rates[0].size === rates[1].size || simulatedMs === 0) return undefined
  const [big, small] = rates
  const exponent = Math.log(big.rate / small.rate) / Math.log(big.size / small.size)
  return { ms: big.rate * (size / big.size) ** exponent * simulatedMs, exponent, sizes: [small.size, big.size], simulatedMs }
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

/** V8's heap grows in pages of 256 KB, one memory mapping each. */
const HEAP_PAGE_BYTES = 256 * 1024

/**
 * The kernel's limit on a process's memory mappings (Linux): past it V8
 * cannot map another heap page and Node aborts (std::bad_alloc). The default,
 * 65,530, is about 16 GB of heap: a 10,000-member run needs more.
 */
function mapLimit (): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8'))
  } catch {
    return undefined
  }
}

if (values['core-cost'] != null) {
  const list = values['core-cost'].split(',').filter(x => x !== '').map(Number)
  console.log(`one core at N = ${list.join(', ')}`)
  saved.coreCost = measureCoreCosts(list)
  save()
}

const heapLimit = getHeapStatistics().heap_size_limit
const flags = ['settled-start', 'no-partition', 'no-lifeguard-off'].filter(f => values[f as keyof typeof values] === true).map(f => ` --${f}`).join('')
console.log(`seed ${seed}; replay: npm run sim:scale -- --seed ${seed} --sizes ${sizes.join(',')} --losses ${lossRates.join(',')}${flags}`)
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
    : `a run of ${Math.round(wall.simulatedMs / 1000)} s simulated would take about ${duration(wall.ms)} of wall clock per Lifeguard setting ` +
      `(wall clock per simulated second grows as N^${wall.exponent.toFixed(2)} from N = ${wall.sizes.map(n => n.toLocaleString('en-US')).join(' to ')}), ` +
      `past the ${values['budget-min']} min budget`
  const maps = mapLimit()
  const mapsNeeded = Math.ceil(need / HEAP_PAGE_BYTES)
  const mappings = maps != null && mapsNeeded > 0.8 * maps
    ? `the heap needs about ${mapsNeeded.toLocaleString('en-US')} memory mappings (V8's 256-KB pages), near or past vm.max_map_count = ${maps.toLocaleString('en-US')}: raise it (as root, sysctl -w vm.max_map_count=1048576)`
    : undefined
  if (mappings != null) console.log(`N = ${size}: ${mappings}`)
  const blocked = [need > 0.9 * heapLimit ? memory : undefined, mappings, wall != null && wall.ms > budgetMs ? time : undefined].filter(x => x != null)
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
      partition: lifeguard && !values['no-partition'],
      settledStart: values['settled-start'],
      wallBudgetMs: budgetMs,
      profile: values.profile,
      log: line => { console.log(line) }
    })
    console.log(`  ${((performance.now() - started) / 60_000).toFixed(1)} min wall${result.aborted == null ? '' : `; stopped: ${result.aborted}`}`)
    // A size run again replaces its rows of the same start (a mass join, or settled).
    saved.results = saved.results.filter(r => !(r.options.size === size && r.options.lifeguard === lifeguard && (r.options.settledStart ?? false) === values['settled-start']))
    saved.results.push(result)
    save()
  }
}
save()
console.log(`wrote ${join(DIR, 'REPORT.md')}`)
