/**
 * The agent's clock and timers for the core drivers (membership/driver.ts):
 * a monotonic clock, and setTimeout.
 */
import type { DriverTimers } from '../membership/index.ts'

/** The monotonic clock every core in the agent is driven by. */
export const clock = (): number => performance.now()

/**
 * Real timers on `now`. A far deadline is re-checked after `maxDelayMs`
 * (setTimeout takes a 32-bit delay; the driver arms again when it fires).
 */
export function realTimers (now: () => number = clock, maxDelayMs = 60_000): DriverTimers {
  return {
    now,
    at: (at, fire) => {
      const timer = setTimeout(fire, Math.min(Math.max(0, at - now()), maxDelayMs))
      return () => { clearTimeout(timer) }
    }
  }
}
