/**
 * A cumulative histogram of ping round trips (a direct SWIM ping to its ack),
 * kept by the transport at the cost of one array increment per ack, and
 * exposed as `agent_probe_duration_seconds` by agent/metrics.ts.
 */

/** Upper bounds of the buckets, in ms (Prometheus `le`, from 1 ms to 2.5 s). */
export const RTT_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500] as const

export interface RttHistogram {
  /** Observations at or below each bound of RTT_BUCKETS_MS (not cumulative across buckets: `le` sums them). */
  counts: number[]
  /** Sum of every observation (ms) and how many there were, the ones above the last bound included. */
  sumMs: number
  count: number
}

export function newRttHistogram (): RttHistogram {
  return { counts: RTT_BUCKETS_MS.map(() => 0), sumMs: 0, count: 0 }
}

export function observeRtt (h: RttHistogram, ms: number): void {
  h.sumMs += ms
  h.count++
  const i = RTT_BUCKETS_MS.findIndex(bound => ms <= bound)
  if (i >= 0) h.counts[i]++
}
