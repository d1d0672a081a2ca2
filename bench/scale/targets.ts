/**
 * The issue's targets for 10,000 members at 1 % loss, judged on the results:
 * met, missed, or not measured (then the largest size that ran is shown
 * beside, with what it would give).
 */
import type { ScaleResult, WindowResult } from './run.ts'
import { protocolFigures, suspicionTimeouts, swimFirstDetectionMs } from './model.ts'
import { frameSize } from './wire-size.ts'

export const TARGET_N = 10_000
export const TARGET_LOSS = 0.01
export const BASE_N = 1_000

interface Judged {
  value: string
  met: boolean | undefined
}

interface Target {
  name: string
  judge: (r: ScaleResult, w: WindowResult, all: ScaleResult[]) => Judged
}

/**
 * Bytes per member per second with nothing failed: probes and gossip as
 * measured, plus push-pull. Push-pull is computed rather than counted:
 * members that booted together push-pull together, every interval, so a
 * short window catches all of them or none. Each member sends a digest of
 * its view once per interval; only when the receiver's view differs does a
 * full exchange follow (two full syncs), which the window's digests say how
 * often happened (crashes and restarts included: an upper bound for a quiet
 * cluster). Results from before digests (no `digests`) count a full
 * exchange every interval, as push-pull then was.
 */
export function steadyTraffic (r: ScaleResult, w: WindowResult): {
  probesAndGossip: number
  syncBytes: number
  /** Share of digests answered by a full exchange. */
  differed: number
  pushPull: number
  total: number
  /** The same with the window's crashed members failed: what goes on the wire (syncs built for them do not). */
  withFailed: number
} {
  const noPushPull = (t: WindowResult['quiet']): number => t.bytesPerMemberSec - (t.byType.sync?.bytesPerMemberSec ?? 0) - (t.byType.digest?.bytesPerMemberSec ?? 0)
  const probesAndGossip = noPushPull(w.quiet)
  const syncBytes = w.withFailed.meanSyncBytes > 0 ? w.withFailed.meanSyncBytes : w.quiet.meanSyncBytes
  const digestBytes = w.digests == null ? 0 : frameSize({ type: 'digest', members: r.options.size, hash: Number.MAX_SAFE_INTEGER })
  const differed = w.digests == null ? 1 : w.digests.sent === 0 ? 0 : w.digests.differed / w.digests.sent
  const pushPull = (digestBytes + differed * 2 * syncBytes) / (protocolFigures(r.config, r.options.size).pushPullMs / 1000)
  return { probesAndGossip, syncBytes, differed, pushPull, total: probesAndGossip + pushPull, withFailed: noPushPull(w.withFailed) + pushPull }
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

const TARGETS: Target[] = [
  {
    name: 'mean time to first suspicion within 1.2× of SWIM\'s bound (e/(e−1) probe periods)',
    judge: (r, w) => {
      const xs = w.crashes.map(c => c.firstSuspectMs).filter((x): x is number => x != null)
      if (xs.length === 0) return { value: 'no crash measured', met: undefined }
      const bound = 1.2 * swimFirstDetectionMs(r.config)
      return { value: `${s(mean(xs))} (bound ${s(bound)}, ${xs.length} crashes)`, met: xs.length === w.crashes.length && mean(xs) <= bound }
    }
  },
  {
    name: '`failed` in 100 % of views within the suspicion timeout + 2 s (from the first suspicion; the Lifeguard minimum for N)',
    judge: (r, w) => {
      const limit = suspicionTimeouts(r.config, r.options.size).minMs + 2000
      const after = w.crashes.map(c => c.failed100Ms == null || c.firstSuspectMs == null ? Infinity : c.failed100Ms - c.firstSuspectMs)
      if (after.length === 0) return { value: 'no crash measured', met: undefined }
      const worst = Math.max(...after)
      return { value: `worst ${Number.isFinite(worst) ? s(worst) : 'never'}, mean ${s(mean(after))} (limit ${s(limit)})`, met: worst <= limit }
    }
  },
  {
    name: '0 false failures per member-hour',
    judge: (_r, w) => ({ value: `${w.falseFailures} in ${w.memberHours.toFixed(1)} member-hours`, met: w.falseFailures === 0 })
  },
  {
    name: `per-member traffic within 1.5× of its value at ${BASE_N.toLocaleString('en-US')} (bytes / member / s, nothing failed, push-pull included)`,
    judge: (r, w, all) => {
      if (r.options.size <= BASE_N) {
        // No 10,000 to compare: show how it grew over the sizes that ran.
        const first = all.filter(x => x.options.lifeguard && x.windows.some(y => y.loss === TARGET_LOSS)).sort((a, b) => a.options.size - b.options.size)[0]
        const fw = first?.windows.find(y => y.loss === TARGET_LOSS)
        if (first == null || fw == null || first.options.size >= r.options.size) return { value: '–', met: undefined }
        const here = steadyTraffic(r, w).total
        const there = steadyTraffic(first, fw).total
        return { value: `${(here / there).toFixed(2)}× from N = ${first.options.size.toLocaleString('en-US')} to ${r.options.size.toLocaleString('en-US')} (${Math.round(there)} to ${Math.round(here)} B/s)`, met: undefined }
      }
      // Like with like: the run at BASE_N that started as this one did (settled or by a mass join), if there is one.
      const settled = (x: ScaleResult): boolean => x.options.settledStart ?? false
      const bases = all.filter(x => x.options.size === BASE_N && x.options.lifeguard)
      const baseRun = bases.find(x => settled(x) === settled(r)) ?? bases[0]
      const base = baseRun?.windows.find(x => x.loss === TARGET_LOSS)
      if (baseRun == null || base == null) return { value: `no run at ${BASE_N}`, met: undefined }
      const here = steadyTraffic(r, w).total
      const there = steadyTraffic(baseRun, base).total
      const failedRatio = steadyTraffic(r, w).withFailed / steadyTraffic(baseRun, base).withFailed
      return {
        value: `${(here / there).toFixed(2)}× (${Math.round(here)} vs ${Math.round(there)} B/s); with failed members ${failedRatio.toFixed(2)}×`,
        met: r.options.size === BASE_N ? undefined : here / there <= 1.5
      }
    }
  }
]

const verdict = (met: boolean | undefined): string => met === true ? '**met**' : met === false ? '**missed**' : 'not judged'

export function targets (results: ScaleResult[]): string[] {
  const at = results.find(r => r.options.size === TARGET_N && r.options.lifeguard)
  const atWindow = at?.windows.find(w => w.loss === TARGET_LOSS)
  const largest = results
    .filter(r => r.options.lifeguard && r.options.size !== TARGET_N && r.windows.some(w => w.loss === TARGET_LOSS))
    .sort((a, b) => b.options.size - a.options.size)[0]
  const largestWindow = largest?.windows.find(w => w.loss === TARGET_LOSS)
  const lines = [
    `| target (N = ${TARGET_N.toLocaleString('en-US')}, ${TARGET_LOSS * 100} % loss, Lifeguard on) | measured at N = ${TARGET_N.toLocaleString('en-US')} | verdict | at the largest N that ran${largest == null ? '' : ` (${largest.options.size.toLocaleString('en-US')})`} |`,
    '|---|---|---|---|'
  ]
  for (const t of TARGETS) {
    const there = at != null && atWindow != null ? t.judge(at, atWindow, results) : undefined
    const here = largest != null && largestWindow != null ? t.judge(largest, largestWindow, results) : undefined
    lines.push(`| ${t.name} | ${there?.value ?? 'not measured'} | ${there == null ? '**not measured**' : verdict(there.met)} | ` +
      `${here == null ? '–' : `${here.value}: ${here.met === true ? 'would meet' : here.met === false ? 'would miss' : '–'}`} |`)
  }
  return lines
}
