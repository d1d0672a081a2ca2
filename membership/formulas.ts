/**
 * Pure protocol formulas, as in hashicorp/memberlist's util.go and
 * suspicion.go. No state, no time: table-tested in
 * test/unit/membership-formulas.test.ts.
 */

/**
 * Lifeguard minimum suspicion timeout: suspicionMult * max(1, log10(max(1, n))) * probeInterval.
 * `n` is the number of members believed alive or suspect (this node included).
 */
export function suspicionMinTimeoutMs (suspicionMult: number, n: number, probeIntervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)))
  return Math.floor(suspicionMult * nodeScale * probeIntervalMs)
}

/** Lifeguard maximum suspicion timeout (used while nobody confirmed the suspicion). */
export function suspicionMaxTimeoutMs (minTimeoutMs: number, suspicionMaxTimeoutMult: number): number {
  return Math.floor(minTimeoutMs * Math.max(1, suspicionMaxTimeoutMult))
}

/**
 * Independent confirmations a suspicion waits for before its timeout reaches the
 * minimum: suspicionMult - 2 (timed so that the nominal timeout is hit about two
 * probe intervals in), but no more than the n - 2 members that could confirm
 * (n counts this node and the suspect), and never negative.
 */
export function expectedConfirmations (suspicionMult: number, n: number): number {
  let k = Math.floor(suspicionMult) - 2
  if (n - 2 < k) k = n - 2
  return Math.max(0, k)
}

/**
 * Lifeguard dynamic suspicion timeout after `confirmations` independent
 * confirmations out of `k` expected:
 * max(min, max - (max - min) * log(c + 1) / log(k + 1)), floored to the millisecond.
 * With k < 1 there is nothing to wait for: the minimum.
 */
export function suspicionTimeoutMs (confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs
  const c = Math.max(0, Math.min(confirmations, k))
  const frac = Math.log(c + 1) / Math.log(k + 1)
  const raw = maxMs - frac * (maxMs - minMs)
  return Math.max(minMs, Math.floor(raw))
}

/** Times each queued update is piggybacked: retransmitMult * ceil(log10(n + 1)). */
export function retransmitLimit (retransmitMult: number, n: number): number {
  const nodeScale = Math.ceil(Math.log10(Math.max(0, n) + 1))
  return retransmitMult * nodeScale
}

/** Cluster size up to which the push-pull interval is not scaled. */
export const PUSH_PULL_SCALE_THRESHOLD = 32

/**
 * Push-pull interval for a cluster of n: unchanged up to 32 members, then
 * multiplied by ceil(log2(n) - log2(32)) + 1 so that the total sync traffic grows slowly.
 */
export function pushPullScaleMs (intervalMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1
  return multiplier * intervalMs
}

/** Live members per reconnect attempt per interval, cluster-wide (reconnectScaleMs). */
export const RECONNECT_SCALE_MEMBERS = 16

/**
 * One member's reconnect interval in a cluster of n live members: the base
 * interval up to 16 members, then stretched in proportion to n, so that the
 * cluster as a whole makes about 16 attempts per base interval at any size
 * rather than n. A partition heals as soon as one attempt crosses it; each
 * attempt is a full sync and, to a member that is really gone, a failed dial,
 * so n attempts every 2 s cost a 50-member start storm more than it could
 * afford (docs/scale.md).
 */
export function reconnectScaleMs (intervalMs: number, n: number): number {
  return intervalMs * Math.max(1, Math.ceil(n / RECONNECT_SCALE_MEMBERS))
}

/** Lifeguard: a timeout or interval scaled by the local health score (0 = healthy). */
export function scaleByHealth (ms: number, health: number): number {
  return ms * (Math.max(0, health) + 1)
}

/** Clamps a local health score to [0, maxMultiplier - 1]. */
export function clampHealth (score: number, maxMultiplier: number): number {
  return Math.min(Math.max(0, score), Math.max(0, maxMultiplier - 1))
}
