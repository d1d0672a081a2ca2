/**
 * How long each suspicion of a live member lasted, read from agents' text
 * logs (`<ISO time> member:suspect <name> …`): per observer and member,
 * from the suspect event to the next alive (refuted) or failed event. In a
 * start where nothing fails, the spread of these spans against the
 * suspicion timeout says more than the count of false failures, which is a
 * lottery of the few longest (docs/scale.md).
 */
const EVENT = /^(\S+Z) member:(suspect|alive|failed) (\S+)/

export interface SuspicionSpans {
  /** Milliseconds from suspect to alive, one per suspicion refuted in time, sorted. */
  refutedMs: number[]
  /** Suspicions that ended in failed. */
  failed: number
  /** Suspicions still open at the end of the log. */
  open: number
}

export function suspicionSpans (logs: Iterable<string>): SuspicionSpans {
  const refutedMs: number[] = []
  let failed = 0
  let open = 0
  for (const log of logs) {
    const since = new Map<string, number>()
    for (const line of log.split('\n')) {
      const m = EVENT.exec(line)
      if (m == null) continue
      const [, at, kind, member] = m
      const start = since.get(member)
      if (kind === 'suspect') {
        if (start == null) since.set(member, Date.parse(at))
      } else if (start != null) {
        if (kind === 'alive') refutedMs.push(Date.parse(at) - start)
        else failed++
        since.delete(member)
      }
    }
    open += since.size
  }
  return { refutedMs: refutedMs.sort((a, b) => a - b), failed, open }
}

/** One line: percentiles of the refuted spans, how many outlasted `overMs`, and the failed and open ones. */
export function describeSpans ({ refutedMs, failed, open }: SuspicionSpans, overMs: number): string {
  const at = (q: number): string => refutedMs.length === 0 ? '-' : `${(refutedMs[Math.min(refutedMs.length - 1, Math.floor(q * refutedMs.length))] / 1000).toFixed(1)} s`
  return `${refutedMs.length} refuted (p50 ${at(0.5)}, p90 ${at(0.9)}, p99 ${at(0.99)}; over ${overMs / 1000} s: ${refutedMs.filter(ms => ms > overMs).length}), ${failed} failed, ${open} open`
}
