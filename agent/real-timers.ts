/**
 * The agent's clock and timers for the core drivers (membership/driver.ts):
 * a monotonic clock, and setTimeout. Once metrics are built, how late each
 * of these timers fires is kept as the event-loop delay (metrics.ts).
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks'
import type { DriverTimers } from '../membership/index.ts'

/** The monotonic clock every core in the agent is driven by. */
export const clock = (): number => performance.now()

let lateness: RecordableHistogram | null | undefined

/**
 * How late the cores' timers fire, in ns, kept from the first call on: the
 * event-loop delay, sampled at each timer the agent arms anyway (about two a
 * second at idle, more when busy) rather than by a timer of its own that
 * would wake an idle process for it. Undefined where the runtime has no
 * histogram to keep it in.
 */
export function timerLateness (): RecordableHistogram | undefined {
  if (lateness === undefined) {
    try { lateness = createHistogram() } catch { lateness = null }
  }
  return lateness ?? undefined
}

/**
 * How early Node may fire a timer: it counts whole milliseconds from the
 * event loop's cached clock, which lags behind while an iteration runs. A
 * timer that fires earlier than this is a far deadline's re-check.
 */
const EARLY_FIRE_MS = 5

/**
 * Real timers on `now`. A far deadline is re-checked after `maxDelayMs`
 * (setTimeout takes a 32-bit delay) and armed again for the rest, without
 * waking the driver.
 */
export function realTimers (now: () => number = clock, maxDelayMs = 60_000): DriverTimers {
  return {
    now,
    at: (at, fire) => {
      let timer: ReturnType<typeof setTimeout>
      const arm = (): void => {
        timer = setTimeout(() => {
          const lateMs = now() - at
          if (lateMs < -EARLY_FIRE_MS) { arm(); return }
          lateness?.record(Math.max(1, Math.round(lateMs * 1e6)))
          fire()
        }, Math.min(Math.max(0, at - now()), maxDelayMs))
      }
      arm()
      return () => { clearTimeout(timer) }
    }
  }
}
