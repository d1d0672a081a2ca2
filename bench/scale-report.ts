/**
 * The scale benchmark's report: the latest measurement of each size is kept
 * in bench/scale-results.json (so that a run of some sizes only, such as
 * BENCH_SCALE_SIZES=100, adds to the others instead of replacing them), and
 * the section "Scale (real agents)" of bench/RESULTS.md is written from all of
 * it. The rest of RESULTS.md is left as it is.
 */
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { median } from './stats.ts'
import type { ScaleRun } from './scale-run.ts'

export const RESULTS_MD = fileURLToPath(new URL('./RESULTS.md', import.meta.url))
export const RESULTS_JSON = fileURLToPath(new URL('./scale-results.json', import.meta.url))
const SECTION = '## Scale (real agents)'

/** One size's latest measurement and the conditions it was made in. */
export interface SizeEntry {
  n: number
  date: string
  node: string
  machine: string
  entry: string
  /** The commit measured, and source files that differed from it (the bundle is built from the working tree). */
  project: string
  seeds: number
  idleMs: number
  /** The bound on convergence (a run that did not converge within it has none). */
  convergeTimeoutMs?: number
  /** Load averages (1, 5, 15 min) when each run began. */
  loads: number[][]
  runs: ScaleRun[]
  /** Runs that did not finish, with why. */
  errors: string[]
  /** What else ran on the machine, or anything else a reader needs to weigh the figures (BENCH_SCALE_NOTE). */
  note?: string
}

export async function loadEntries (): Promise<Map<number, SizeEntry>> {
  if (!existsSync(RESULTS_JSON)) return new Map()
  const list = JSON.parse(await readFile(RESULTS_JSON, 'utf8')) as SizeEntry[]
  return new Map(list.map(e => [e.n, e]))
}

export async function saveEntries (entries: Map<number, SizeEntry>): Promise<void> {
  const list = [...entries.values()].sort((a, b) => a.n - b.n)
  // JSON.stringify writes NaN (a measurement that did not happen) as null; median() skips both.
  await writeFile(RESULTS_JSON, JSON.stringify(list, null, 2) + '\n')
}

type Key = keyof ScaleRun
const values = (e: SizeEntry, key: Key): number[] => e.runs.map(r => Number(r[key] ?? NaN))
const med = (e: SizeEntry | undefined, key: Key): number => e == null ? NaN : median(values(e, key))
const max = (e: SizeEntry, key: Key): number => Math.max(...values(e, key).map(v => Number.isNaN(v) ? Infinity : v))
/** A median of runs of which none measured it (a bound ran out): a dash. */
const fmt = (x: number): string => Number.isNaN(x) ? '—' : String(x)
const verdict = (ok: boolean | undefined): string => ok == null ? '' : ok ? 'met' : 'missed'

interface Row { label: string, key: Key, unit: string, target?: (e: SizeEntry) => [string, boolean] | undefined }

/** The per-size targets of the issue "Flat cost per member". */
const ROWS: Row[] = [
  {
    label: 'converge from launch (every agent lists all N alive)',
    key: 'convergeMs',
    unit: 'ms',
    target: e => {
      const limit = e.n === 50 ? 5000 : e.n === 100 ? 10_000 : undefined
      return limit == null ? undefined : [`< ${limit}`, max(e, 'convergeMs') < limit]
    }
  },
  { label: 'converged for good (the last time all views became full)', key: 'stableConvergeMs', unit: 'ms' },
  { label: 'agents whose /v1/health showed N alive just after convergence', key: 'healthConfirmed', unit: '' },
  { label: 'start CPU per agent, mean (launch → converged, or → the bound)', key: 'startCpuS', unit: 's' },
  { label: 'start CPU per agent, max', key: 'startCpuMaxS', unit: 's' },
  { label: "this benchmark's own CPU over the start (watching)", key: 'watcherCpuS', unit: 's' },
  { label: 'false failures while starting (launch → converged + settle)', key: 'startFalseFailures', unit: '', target: e => ['0', max(e, 'startFalseFailures') === 0] },
  { label: 'suspicions of live members while starting', key: 'startSuspicions', unit: '' },
  { label: 'idle window', key: 'idleSeconds', unit: 's' },
  { label: 'false failures in the idle window', key: 'idleFalseFailures', unit: '', target: e => ['0', max(e, 'idleFalseFailures') === 0] },
  { label: 'suspicions of live members in the idle window', key: 'idleSuspicions', unit: '' },
  { label: 'idle RSS per agent, mean', key: 'idleRssMb', unit: 'MB' },
  { label: 'idle RSS per agent, max', key: 'idleRssMaxMb', unit: 'MB' },
  { label: 'idle CPU per agent', key: 'idleCpuPercent', unit: '% core' },
  { label: 'idle membership traffic per agent (in + out)', key: 'idleBytesPerSec', unit: 'B/s' },
  { label: 'idle work-transport messages per agent (in + out)', key: 'idleWorkMsgsPerSec', unit: '/s' },
  { label: 'idle process I/O per agent (rchar + wchar: sockets, pipes, files)', key: 'idleIoBytesPerSec', unit: 'B/s' },
  { label: 'statuses differing between the event-kept views and /v1/members after idle (method check)', key: 'viewMismatches', unit: '' },
  { label: 'agents that listed the killed agent alive (those timed below)', key: 'killObservers', unit: '' },
  { label: 'kill -9 → first detection (suspect or failed)', key: 'killFirstMs', unit: 'ms' },
  { label: 'kill -9 → failed everywhere', key: 'killAllFailedMs', unit: 'ms', target: e => ['< 2000', max(e, 'killAllFailedMs') < 2000] },
  { label: 'agents that listed the stopped agent alive (those timed below)', key: 'stopObservers', unit: '' },
  { label: 'kill -STOP → first detection (suspect or failed)', key: 'stopFirstMs', unit: 'ms' },
  { label: 'kill -STOP → failed everywhere', key: 'stopAllFailedMs', unit: 'ms', target: e => ['< 10000', max(e, 'stopAllFailedMs') < 10_000] },
  { label: 'kill -CONT → alive everywhere', key: 'resumeAllAliveMs', unit: 'ms' },
  { label: 'other members marked failed during the faults', key: 'faultFalseFailures', unit: '' }
]

function sizeTable (e: SizeEntry): string[] {
  const loads = e.loads.map(l => l.map(x => x.toFixed(2)).join(' / ')).join('; ')
  const lines = [
    `### ${e.n} agents`,
    '',
    `${e.date}; ${e.machine}; Node ${e.node} running ${e.entry}; project at ${e.project ?? '?'}; ${e.runs.length} run${e.runs.length === 1 ? '' : 's'}` +
      `${e.errors.length > 0 ? ` (${e.errors.length} more did not finish: ${e.errors.join('; ')})` : ''}; ` +
      `idle window ${Math.round(e.idleMs / 1000)} s${e.idleMs < 300_000 ? ' (shortened from 5 min)' : ''}; ` +
      `all launched at once, joining ${e.seeds === 1 ? 'agent 1' : `agents 1–${e.seeds}`}; load average at start (1 / 5 / 15 min): ${loads}`,
    ''
  ]
  if (e.note != null && e.note !== '') lines.push(`Note: ${e.note}`, '')
  if (e.runs.length === 0) return lines
  lines.push('| measure | median | min–max | target | met |', '|---|---|---|---|---|')
  for (const row of ROWS) {
    const v = values(e, row.key).filter(x => !Number.isNaN(x))
    const unit = row.unit === '' ? '' : ` ${row.unit}`
    const target = row.target?.(e)
    const range = v.length === e.runs.length
      ? `${Math.min(...v)}–${Math.max(...v)}`
      : `${v.length > 0 ? `${Math.min(...v)}–${Math.max(...v)}; ` : ''}${e.runs.length - v.length} of ${e.runs.length} without a value (the bound ran out, or nothing to time)`
    const m = med(e, row.key)
    lines.push(`| ${row.label} | ${Number.isNaN(m) ? '—' : `${m}${unit}`} | ${range} | ${target?.[0] ?? ''} | ${verdict(target?.[1])} |`)
  }
  lines.push('')
  return lines
}

/** The targets that compare sizes, and the per-size ones gathered. */
function summary (entries: Map<number, SizeEntry>): string[] {
  const at = (n: number): SizeEntry | undefined => entries.get(n)
  const ratio = (key: Key, limit: number, label: string): string => {
    const a = med(at(10), key)
    const b = med(at(100), key)
    if (Number.isNaN(a) || Number.isNaN(b)) return `| ${label} at 100 ≤ ${limit}× at 10 | ${fmt(a)} at 10, ${fmt(b)} at 100 | not measured at both |`
    const r = b / a
    const unformed = [10, 100].filter(n => Number.isNaN(med(at(n), 'convergeMs')))
    // A cluster that never formed is cheap per agent because each agent knows few others: no verdict on it.
    const met = unformed.length > 0 ? `not assessable: ${unformed.join(' and ')} agents did not converge` : verdict(r <= limit)
    return `| ${label} at 100 ≤ ${limit}× at 10 | ${a} → ${b} (${r.toFixed(2)}×) | ${met} |`
  }
  const everySize = (label: string, check: (e: SizeEntry) => boolean | undefined, show: (e: SizeEntry) => string): string => {
    const sizes = [...entries.values()].filter(e => e.runs.length > 0).sort((a, b) => a.n - b.n)
    const verdicts = sizes.map(check).filter(v => v != null)
    const measured = sizes.map(e => `${e.n}: ${show(e)}`).join('; ')
    return `| ${label} | ${measured} | ${verdicts.length === 0 ? '' : verdict(verdicts.every(Boolean))} |`
  }
  const conv = (n: number, limit: number): string => {
    const e = at(n)
    if (e == null || e.runs.length === 0) return `| ${n} agents converge from launch < ${limit / 1000} s | not measured | |`
    const m = med(e, 'convergeMs')
    const shown = Number.isNaN(m) ? `not within ${Math.round((e.convergeTimeoutMs ?? NaN) / 1000)} s` : `${m} ms`
    return `| ${n} agents converge from launch < ${limit / 1000} s | ${shown} (median of ${e.runs.length}) | ${verdict(max(e, 'convergeMs') < limit)} |`
  }
  return [
    '| target | measured (medians) | met |',
    '|---|---|---|',
    conv(50, 5000),
    conv(100, 10_000),
    ratio('startCpuS', 1.5, 'start CPU per agent'),
    everySize('0 false failures while starting and while idle, every N',
      e => max(e, 'startFalseFailures') === 0 && max(e, 'idleFalseFailures') === 0,
      e => `${fmt(med(e, 'startFalseFailures'))} + ${fmt(med(e, 'idleFalseFailures'))}`),
    everySize('kill -9 failed everywhere < 2 s, every N', e => max(e, 'killAllFailedMs') < 2000, e => `${fmt(med(e, 'killAllFailedMs'))} ms`),
    at(100) != null && med(at(100), 'stopObservers') === 0
      ? everySize('kill -STOP failed everywhere < 10 s at 100 (not measurable at 100: no agent listed the stopped one alive)', () => undefined, e => `${fmt(med(e, 'stopAllFailedMs'))} ms`)
      : everySize(`kill -STOP failed everywhere < 10 s at 100 (met or missed at 100 only${at(100) == null ? ': not measured there' : ''})`,
        e => e.n === 100 ? max(e, 'stopAllFailedMs') < 10_000 : undefined, e => `${fmt(med(e, 'stopAllFailedMs'))} ms`),
    ratio('idleRssMb', 1.2, 'idle RSS per agent'),
    ratio('idleCpuPercent', 1.2, 'idle CPU per agent'),
    ratio('idleBytesPerSec', 1.2, 'idle membership traffic per agent'),
    ''
  ]
}

const METHOD = [
  '`npm run bench:scale` (bench/scale.ts) builds the package and launches N agents of the bundle',
  '(`agent/bin.js` → `dist/agent.cjs` with its code cache, lan profile, loopback, OS-chosen ports) all at once, every',
  'one joining agent 1 (its port chosen before the launch). Convergence is the first moment every',
  "agent lists all N members alive, followed from each agent's `/v1/events` stream (one",
  '`/v1/members` when the stream opens, then each member event applied), not by polling member',
  'lists; "for good" is the last time that became true, if it still held 10 s later. One',
  '`/v1/health` per agent just after, and one `/v1/members` per agent after the idle window',
  '(compared with the views kept from events), check the method. Start CPU is utime + stime from',
  '`/proc/PID/stat` at convergence (each process began at launch), or at the bound if none.',
  'A false failure is a `member:failed` event (or `failed` in the initial list) about a member',
  'that was running, from any agent; the start lasts until 10 s after convergence, the idle',
  'window follows. RSS is VmRSS at the end of the idle window; traffic is `/v1/stats` transport',
  'bytes in + out (membership frames). Then the last agent is killed (-9), and the one before it',
  'stopped (-STOP) and resumed (-CONT), each timed from the events of every agent that listed it',
  'alive. Sizes: BENCH_SCALE_SIZES; runs per size: BENCH_RUNS; idle window: BENCH_IDLE_MS. Each',
  'size keeps its latest measurement (bench/scale-results.json): each table says when it was made.'
]

export function renderSection (entries: Map<number, SizeEntry>): string {
  const sizes = [...entries.values()].sort((a, b) => a.n - b.n)
  return [SECTION, '', ...METHOD, '', ...summary(entries), ...sizes.flatMap(sizeTable)].join('\n')
}

/** Replaces (or appends) the section in bench/RESULTS.md, keeping everything else. */
export async function writeResultsMd (section: string): Promise<void> {
  const text = existsSync(RESULTS_MD)
    ? await readFile(RESULTS_MD, 'utf8')
    : '# Benchmark results\n\nFigures measured by the benchmarks in bench/, one section per benchmark.\n'
  const lines = text.split('\n')
  const start = lines.findIndex(l => l.trim() === SECTION)
  if (start === -1) {
    await writeFile(RESULTS_MD, `${text.trimEnd()}\n\n${section.trimEnd()}\n`)
    return
  }
  let end = lines.findIndex((l, i) => i > start && /^#{1,2} /.test(l))
  if (end === -1) end = lines.length
  const before = lines.slice(0, start).join('\n').trimEnd()
  const after = lines.slice(end).join('\n').trim()
  await writeFile(RESULTS_MD, `${before}\n\n${section.trimEnd()}\n${after === '' ? '' : `\n${after}\n`}`)
}
