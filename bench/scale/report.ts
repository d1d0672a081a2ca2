/**
 * bench/scale/REPORT.md and its plots, from the results of the scale runs
 * (bench/scale/results.json): tables per size and loss rate, the issue's
 * targets with met / missed / not measured, and where the time went.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ScaleResult, WindowResult } from './run.ts'
import { LATENCY, SLOW_MEAN_MS } from './run.ts'
import { membersFor, modelFraction, modelRounds, suspicionTimeouts, swimFirstDetectionMs, protocolFigures } from './model.ts'
import { histogramSeries, linePlot, type Series } from './svg.ts'
import { MAX_MESSAGE_BYTES } from './measure.ts'
import { steadyTraffic, targets } from './targets.ts'
import type { CoreCost } from './core-cost.ts'
import { RECONNECT_SCALE_MEMBERS, reconnectScaleMs } from '../../membership/formulas.ts'

export interface ReportMeta {
  date: string
  machine: string
  node: string
  command: string
  seed: number
  /** Sizes asked for that did not run, and why. */
  notRun: Array<{ size: number, reason: string }>
  /** Hand-written findings (markdown), placed after the targets. */
  analysis?: string
  coreCost?: CoreCost[]
}

const FRACTIONS = [0.5, 0.99, 0.9999, 1]
/** A run's size, marked when it started settled (no mass join: run.ts settledStart). */
const sizeLabel = (r: ScaleResult): string => `${int(r.options.size)}${r.options.settledStart === true ? ' (settled)' : ''}`
const s1 = (ms: number | undefined): string => ms == null || !Number.isFinite(ms) ? '–' : (ms / 1000).toFixed(2)
const int = (x: number): string => Math.round(x).toLocaleString('en-US')
const pct = (x: number): string => `${Number((x * 100).toPrecision(3))} %`

export function mean (xs: number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length
}

function maxOf (xs: number[]): number {
  return xs.length === 0 ? NaN : Math.max(...xs)
}

const defined = (xs: Array<number | undefined>): number[] => xs.filter((x): x is number => x != null)

/** Time (ms) at which `fraction` of the observers had the update, or undefined if never. */
export function reachedAt (arrivals: number[], observers: number, fraction: number): number | undefined {
  return arrivals[membersFor(fraction, observers) - 1]
}

function windowsOf (results: ScaleResult[], lifeguard = true): Array<{ r: ScaleResult, w: WindowResult }> {
  return results.filter(r => r.options.lifeguard === lifeguard).flatMap(r => r.windows.map(w => ({ r, w })))
}

function detectionTable (results: ScaleResult[]): string[] {
  const out = [
    '| N | loss | crashes | first probe | first suspicion (mean / max) | first failed | failed in 99 % (mean / max) | failed in 100 % (mean / max) | 100 % after first suspicion (max) | not everywhere | SWIM bound | suspicion timeout min / max |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|'
  ]
  for (const { r, w } of windowsOf(results)) {
    const c = w.crashes
    const { minMs, maxMs } = suspicionTimeouts(r.config, r.options.size)
    const after = defined(c.map(x => x.failed100Ms == null || x.firstSuspectMs == null ? undefined : x.failed100Ms - x.firstSuspectMs))
    const suspect = defined(c.map(x => x.firstSuspectMs))
    const f99 = defined(c.map(x => x.failed99Ms))
    const f100 = defined(c.map(x => x.failed100Ms))
    out.push(`| ${sizeLabel(r)} | ${pct(w.loss)} | ${c.length} | ${s1(mean(defined(c.map(x => x.firstProbeMs))))} | ${s1(mean(suspect))} / ${s1(maxOf(suspect))} | ` +
      `${s1(mean(defined(c.map(x => x.firstFailedMs))))} | ${s1(mean(f99))} / ${s1(maxOf(f99))} | ${s1(mean(f100))} / ${s1(maxOf(f100))} | ${s1(maxOf(after))} | ` +
      `${c.length - f100.length} | ${s1(swimFirstDetectionMs(r.config))} | ${s1(minMs)} / ${s1(maxMs)} |`)
  }
  return out
}

function spreadTable (results: ScaleResult[]): string[] {
  const out = [
    '| N | loss | updates | 50 % | 99 % | 99.99 % | 100 % | model 50 % | model 99 % | model 99.99 % | model 100 % |',
    '|---|---|---|---|---|---|---|---|---|---|---|'
  ]
  for (const { r, w } of windowsOf(results)) {
    const measured = FRACTIONS.map(f => {
      const times = w.spreads.map(s => reachedAt(s.arrivals, s.observers, f))
      const reached = defined(times)
      return reached.length < times.length ? `${s1(mean(reached))} (${times.length - reached.length} never)` : s1(mean(reached))
    })
    const model = FRACTIONS.map(f => s1(modelRounds(f, r.options.size, r.config.gossipNodes, w.loss) * r.config.gossipIntervalMs))
    out.push(`| ${sizeLabel(r)} | ${pct(w.loss)} | ${w.spreads.length} | ${measured.join(' | ')} | ${model.join(' | ')} |`)
  }
  return out
}

function falseTable (results: ScaleResult[]): string[] {
  const out = [
    '| N | Lifeguard | loss | member-hours | false failures | per member-hour | false suspicions | per member-hour |',
    '|---|---|---|---|---|---|---|---|'
  ]
  const sorted = [...results].sort((a, b) => a.options.size - b.options.size || Number(b.options.lifeguard) - Number(a.options.lifeguard))
  for (const r of sorted) {
    for (const w of r.windows) {
      out.push(`| ${sizeLabel(r)} | ${r.options.lifeguard ? 'on' : 'off'} | ${pct(w.loss)} | ${w.memberHours.toFixed(1)} | ${w.falseFailures} | ` +
        `${(w.falseFailures / w.memberHours).toPrecision(2)} | ${w.falseSuspicions} | ${(w.falseSuspicions / w.memberHours).toPrecision(2)} |`)
    }
  }
  return out
}

function partitionTable (results: ScaleResult[]): string[] {
  const out = [
    '| N | loss | majority \\| minority | majority has the minority failed (partition), knows it is the majority | minority likewise | one view after healing |',
    '|---|---|---|---|---|---|'
  ]
  for (const r of results) {
    const p = r.partition
    if (p == null) continue
    const done = (ms: number | undefined, missing: number): string => ms != null ? `${s1(ms)} s` : `not within 300 s (${missing} members without the verdict)`
    out.push(`| ${sizeLabel(r)} | ${pct(p.loss)} | ${p.majority} \\| ${p.minority} | ${done(p.majorityDoneMs, p.majorityMissing)} | ` +
      `${done(p.minorityDoneMs, p.minorityMissing)} | ${p.healedMs != null ? `${s1(p.healedMs)} s` : 'not within 300 s'} |`)
  }
  return out
}

function trafficTable (results: ScaleResult[]): string[] {
  const out = [
    '| N | loss | probes + gossip: msgs / member / s | bytes / member / s | full sync size | digests answered by a full exchange | push-pull: bytes / member / s | total, nothing failed | total with failed members | built for failed members (not sent) | largest frame | frames over 1 MiB |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|'
  ]
  for (const { r, w } of windowsOf(results)) {
    const t = steadyTraffic(r, w)
    const msgs = w.quiet.msgsPerMemberSec - (w.quiet.byType.sync?.msgsPerMemberSec ?? 0) - (w.quiet.byType.digest?.msgsPerMemberSec ?? 0)
    const differed = w.digests == null ? 'all (before digests)' : `${(100 * t.differed).toFixed(1)} % of ${int(w.digests.sent)}`
    out.push(`| ${sizeLabel(r)} | ${pct(w.loss)} | ${msgs.toFixed(2)} | ${int(t.probesAndGossip)} | ${int(t.syncBytes)} | ${differed} | ${int(t.pushPull)} | ${int(t.total)} | ` +
      `${int(t.withFailed)} | ${int(w.withFailed.undeliverableBytesPerMemberSec)} | ${int(w.withFailed.largest)} | ${w.withFailed.oversized} |`)
  }
  return out
}

function runsTable (results: ScaleResult[]): string[] {
  const out = [
    '| N | Lifeguard | converged after | settled after | slow members | simulated | wall clock | wall per phase | heap after settling | stopped early |',
    '|---|---|---|---|---|---|---|---|---|---|'
  ]
  for (const r of results) {
    const wall = Object.values(r.wall).reduce((a, b) => a + b, 0)
    const phases = Object.entries(r.wall).map(([k, v]) => `${k} ${(v / 60_000).toFixed(1)} min`).join(', ')
    out.push(`| ${sizeLabel(r)} | ${r.options.lifeguard ? 'on' : 'off'} | ${r.options.settledStart === true ? 'started settled' : `${s1(r.convergeMs)} s`} | ${s1(r.settleMs)} s | ${r.slow} | ${s1(r.simulatedMs)} s | ` +
      `${(wall / 60_000).toFixed(1)} min | ${phases} | ${r.heapMb} MB | ${r.aborted ?? 'no'} |`)
  }
  return out
}

function coreCostTable (rows: CoreCost[]): string[] {
  if (rows.length === 0) return []
  return [
    'One core alone (bench/scale/core-cost.ts, each size in its own process): learning N members from one sync; a received ping plus the driver\'s `nextDeadline()` while ' +
    'the N learned members are queued for gossip, while that queue drains, and once it is empty; heap held per known member. A core whose work per message did not depend on N would show a flat "drained" column.', '',
    '| N | learn N members | per ping, N queued | pings to drain the queue | per ping while draining | per ping, drained | heap per member |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(r => `| ${int(r.size)} | ${r.learnMs.toFixed(0)} ms | ${r.queuedUs.toFixed(0)} µs | ${int(r.drainPings)} | ${r.drainUs.toFixed(0)} µs | ${r.drainedUs.toFixed(0)} µs | ${int(r.bytesPerMember)} B |`),
    '',
    'The runs with Lifeguard, profiled while joining, in the 1 % window and in the partition (self time of the hottest functions; ' +
    '`#arm` in testkit/sim/cluster.ts is the driver\'s call of `nextDeadline()`, inlined):', ''
  ]
}

/** Phases whose profiles the report shows: joining, a steady window, the partition. */
const SHOWN_PHASES = ['boot', 'window 1%', 'partition']

function hotTable (results: ScaleResult[]): string[] {
  const out: string[] = []
  for (const r of results.filter(x => x.options.lifeguard)) {
    for (const [phase, hot] of Object.entries(r.hot ?? {})) {
      if (hot.length === 0 || !SHOWN_PHASES.some(p => phase.startsWith(p))) continue
      out.push(`**N = ${sizeLabel(r)}, Lifeguard ${r.options.lifeguard ? 'on' : 'off'}, ${phase}** (self time):`, '')
      out.push('| function | where | self |', '|---|---|---|')
      for (const h of hot.slice(0, 10)) out.push(`| \`${h.name}\` | ${h.where} | ${h.selfPercent.toFixed(1)} % |`)
      out.push('')
    }
  }
  return out
}

function plots (results: ScaleResult[], dir: string): string[] {
  const on = results.filter(r => r.options.lifeguard).sort((a, b) => a.options.size - b.options.size)
  if (on.length === 0) return []
  const config = on[0].config
  const suspicion = on.map(r => histogramSeries(`N = ${sizeLabel(r)}`, defined(r.windows.flatMap(w => w.crashes.map(c => c.firstSuspectMs))).map(x => x / 1000), 0.25))
  writeFileSync(join(dir, 'detection.svg'), linePlot({
    title: 'Silent crash to first suspicion (all loss rates)', xLabel: 'seconds after the crash', yLabel: 'crashes', series: suspicion,
    markers: [{ x: swimFirstDetectionMs(config) / 1000, label: 'SWIM e/(e-1)' }, { x: 1.2 * swimFirstDetectionMs(config) / 1000, label: '1.2x' }]
  }))
  const failed = on.map(r => histogramSeries(`N = ${sizeLabel(r)}`, defined(r.windows.flatMap(w => w.crashes.map(c => c.failed100Ms))).map(x => x / 1000), 1))
  writeFileSync(join(dir, 'failed.svg'), linePlot({
    title: 'Silent crash to failed in every view (all loss rates)', xLabel: 'seconds after the crash', yLabel: 'crashes', series: failed,
    markers: on.map(r => ({ x: suspicionTimeouts(r.config, r.options.size).minMs / 1000, label: `min timeout ${sizeLabel(r)}` }))
  }))
  const spread: Series[] = []
  for (const r of on) {
    const w = r.windows.find(x => x.loss === 0.01) ?? r.windows[0]
    if (w == null || w.spreads.length === 0) continue
    const grid: Array<[number, number]> = []
    const modelEnd = modelRounds(1, r.options.size, r.config.gossipNodes, w.loss) * r.config.gossipIntervalMs
    const end = Math.max(modelEnd, ...w.spreads.map(s => s.arrivals.at(-1) ?? 0))
    for (let t = 0; t <= end + 100; t += 50) {
      grid.push([t / 1000, mean(w.spreads.map(s => s.arrivals.filter(x => x <= t).length / s.observers))])
    }
    spread.push({ name: `N = ${sizeLabel(r)}, ${pct(w.loss)} loss`, points: grid })
    const model: Array<[number, number]> = []
    for (let t = 0; t <= end + 100; t += 50) model.push([t / 1000, modelFraction(t / r.config.gossipIntervalMs, r.options.size, r.config.gossipNodes, w.loss)])
    spread.push({ name: `model, N = ${sizeLabel(r)}`, points: model, dashed: true })
  }
  writeFileSync(join(dir, 'dissemination.svg'), linePlot({ title: 'One update: share of members that have it', xLabel: 'seconds after the update', yLabel: 'share of members', series: spread, yMax: 1 }))
  const byN = (pick: (w: WindowResult) => number): Array<[number, number]> =>
    on.flatMap(r => { const w = r.windows.find(x => x.loss === 0.01); return w == null ? [] : [[r.options.size, pick(w)] as [number, number]] })
  writeFileSync(join(dir, 'traffic.svg'), linePlot({
    title: 'Bytes sent per member per second (1 % loss)', xLabel: 'members (N)', yLabel: 'bytes / member / s', logX: true, logY: true,
    series: [
      { name: 'nothing failed', points: on.flatMap(r => { const w = r.windows.find(x => x.loss === 0.01); return w == null ? [] : [[r.options.size, steadyTraffic(r, w).total] as [number, number]] }), dots: true },
      { name: 'with failed members', points: on.flatMap(r => { const w = r.windows.find(x => x.loss === 0.01); return w == null ? [] : [[r.options.size, steadyTraffic(r, w).withFailed] as [number, number]] }), dots: true },
      { name: 'built for failed members', points: byN(w => w.withFailed.undeliverableBytesPerMemberSec), dots: true, dashed: true }
    ]
  }))
  return [
    '![crash to first suspicion](detection.svg)', '',
    '![crash to failed everywhere](failed.svg)', '',
    '![dissemination](dissemination.svg)', '',
    '![traffic](traffic.svg)', ''
  ]
}

export function writeReport (results: ScaleResult[], meta: ReportMeta, dir: string): void {
  results = [...results].sort((a, b) => a.options.size - b.options.size || Number(b.options.lifeguard) - Number(a.options.lifeguard))
  const first = results[0]
  const o = first?.options
  const lines: string[] = [
    '# Membership at scale: simulated', '',
    `${meta.date}; ${meta.machine}; ${meta.node}. Generated by \`${meta.command}\` (bench/scale/sim.ts).`, '',
    `Seed ${meta.seed}. Every run replays exactly: \`npm run sim:scale -- --seed ${meta.seed} --sizes N\` (the seed drives the network, the cores' generators, the crashes and the partition).`, '',
    '## What runs', '',
    'The real membership core (`membership/`, unchanged), one per member, driven by the simulator of the tests (`testkit/sim/cluster.ts` over `testkit/sim/network.ts`: each core ticked at its `nextDeadline()`, effects performed, seeded logical time). ' +
    'Profile `lan`; claims signed and checked (a fake scheme with 64-byte signatures, the size of ed25519); member ids shaped like libp2p peer ids (52 characters) with one address each, so that message sizes are those of the agent.',
    '',
    `- Network: one-way latency log-normal (median ${LATENCY.medianMs} ms, σ ${LATENCY.sigma}, within [${LATENCY.minMs}, ${LATENCY.maxMs}] ms); each message lost with the window's loss rate.`,
    `- Slow members: ${o == null ? '' : pct(o.slowFraction)} of the members, from the end of the boot on: every message to or from one takes an extra exponential delay (mean ${SLOW_MEAN_MS} ms), and each of its timers fires late by the same law.`,
    `- Boot: all members join member 0 within ${o == null ? '' : s1(o.joinWithinMs)} s; converged when every member sees every other alive; settled when the join gossip has died down. ` +
    'A run marked "started settled" (`--settled-start`) skips the mass join: every member is created knowing every other alive (MembershipOptions.knownMembers), as a join leaves them once settled.',
    `- Each loss window (${o?.lossRates.map(pct).join(', ')}): traffic over ${o == null ? '' : s1(o.trafficMs)} s with nothing failing; ${o?.updates} updates (a tag change of one member) ${o == null ? '' : s1(o.updateEveryMs)} s apart; ` +
    `${o?.crashes} silent crashes (host down: no connection refused) ${o == null ? '' : s1(o.crashEveryMs)} s apart, waited for until failed in every view; traffic again over ${o == null ? '' : s1(o.trafficMs)} s with those members failed; ` +
    'then the crashed hosts restart (new boot ids) and the cluster settles, so that each window, and the partition, starts with every member up.',
    '- Lifeguard off: `awarenessMaxMultiplier: 1` (no local health) and `suspicionMaxTimeoutMult: 1` (a fixed suspicion timeout); the buddy ping to a suspect has no switch and stays on.',
    '- Bytes: each frame as the transport counts it (length prefix, version byte, protobuf envelope of gossip/codec.ts, computed field by field by bench/scale/wire-size.ts and checked against the codec in test/sim/scale.test.ts); yamux and noise framing not included.',
    '',
    '## Targets', '',
    ...targets(results),
    '',
    ...(meta.analysis == null ? [] : ['## Analysis', '', meta.analysis.trim(), '']),
    '## Runs', '',
    ...runsTable(results),
    ''
  ]
  if (meta.notRun.length > 0) {
    lines.push('Not run:', '')
    for (const n of meta.notRun) lines.push(`- N = ${int(n.size)}: ${n.reason}`)
    lines.push('')
  }
  lines.push(
    '## Failure detection (silent crash, Lifeguard on)', '',
    'Seconds after the crash. "First probe": the first ping anyone sent the crashed member. SWIM bound: e/(e−1) probe periods, the expected wait for the first probe period in which someone picks the member (SWIM suspects at the end of that period).', '',
    ...detectionTable(results), '',
    '## Dissemination of one update (Lifeguard on)', '',
    'Seconds after the update until the share of the other members that hold it; mean over the updates of the window. Model: HashiCorp\'s, p = fanout/N · (1 − loss) · ½, share after x gossip rounds 1/(1 + (N+1)e^(−pNx)), ' +
    `fanout ${first?.config.gossipNodes}, a round every ${first?.config.gossipIntervalMs} ms; "100 %" in the model is fewer than half a member left.`, '',
    ...spreadTable(results), '',
    '## False suspicions and failures', '',
    'A member that is up (slow ones included) suspected or declared failed by an up member; counted once per member and incarnation.', '',
    ...falseTable(results), '',
    '## Partition 60 % | 40 % (Lifeguard on)', '',
    ...partitionTable(results), '',
    '## Traffic', '',
    `Sent per member and second. Probes and gossip are counted over ${o == null ? '' : s1(o.trafficMs)} s with nothing failed. Push-pull is computed: a digest of the view once per push-pull interval, ` +
    'and a full exchange (the measured size of a full sync, sent and answered) for the share of digests that found the views different over the whole window, crashes and restarts included ' +
    '(members that booted together push-pull together, so a short window catches all of them or none). ' +
    `"With failed members": probes and gossip counted over the last ${o == null ? '' : s1(o.trafficMs)} s of each window, when the members crashed in it are failed everywhere, plus push-pull. ` +
    'Messages to a member that is down (or cut off) are not counted as sent: a real dial fails and puts nothing on the wire; "built for failed members" is what the core addressed to them (reconnect full syncs, every interval given below). ' +
    `The transport refuses frames over ${int(MAX_MESSAGE_BYTES)} bytes (maxMessageBytes).`, '',
    ...trafficTable(results), '',
    protocolLine(results), '',
    '## Plots', '',
    ...plots(results, dir),
    ...whereTheTimeGoes(coreCostTable(meta.coreCost ?? []), hotTable(results))
  )
  writeFileSync(join(dir, 'REPORT.md'), lines.join('\n').replace(/\n{3,}/g, '\n\n'))
}

/** The section, when a run measured one core alone (--core-cost) or profiled its phases (--profile). */
function whereTheTimeGoes (coreCost: string[], hot: string[]): string[] {
  return coreCost.length + hot.length === 0 ? [] : ['## Where the time goes', '', ...coreCost, ...hot]
}

function protocolLine (results: ScaleResult[]): string {
  const sizes = [...new Set(results.map(r => r.options.size))]
  if (sizes.length === 0) return ''
  const parts = sizes.map(n => {
    const { retransmits, pushPullMs } = protocolFigures(results[0].config, n)
    return `N = ${int(n)}: each update sent ${retransmits} times by each member, push-pull every ${s1(pushPullMs)} s`
  })
  const reconnect = sizes.map(n => `${s1(reconnectScaleMs(results[0].config.reconnectIntervalMs, n))} s at ${int(n)}`).join(', ')
  return `Protocol figures (membership/formulas.ts): ${parts.join('; ')}; a member with any failed member also sends a full sync to one of them every ${reconnect} (reconnectIntervalMs, stretched in proportion to N above ${RECONNECT_SCALE_MEMBERS} members).`
}
