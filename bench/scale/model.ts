/**
 * What theory says the scale run should see, to set each measurement beside:
 * SWIM's expected time to first detection, the core's own suspicion timeouts,
 * and HashiCorp's epidemic model of dissemination.
 */
import type { MembershipConfig } from '../../membership/index.ts'
import { suspicionMaxTimeoutMs, suspicionMinTimeoutMs, retransmitLimit, pushPullScaleMs } from '../../membership/formulas.ts'

/**
 * SWIM (Das et al. 2002): with every member probing one random member per
 * period, a crashed member is first picked by someone after
 * 1 / (1 - e^-1) = e / (e - 1) periods in expectation.
 */
export const SWIM_FIRST_DETECTION_PERIODS = Math.E / (Math.E - 1)

export function swimFirstDetectionMs (config: MembershipConfig): number {
  return SWIM_FIRST_DETECTION_PERIODS * config.probeIntervalMs
}

/** Lifeguard's suspicion timeout for `n` members: the minimum (reached with enough confirmations) and the maximum. */
export function suspicionTimeouts (config: MembershipConfig, n: number): { minMs: number, maxMs: number } {
  const minMs = suspicionMinTimeoutMs(config.suspicionMult, n, config.probeIntervalMs)
  return { minMs, maxMs: suspicionMaxTimeoutMs(minMs, config.suspicionMaxTimeoutMult) }
}

export function protocolFigures (config: MembershipConfig, n: number): { retransmits: number, pushPullMs: number } {
  return { retransmits: retransmitLimit(config.retransmitMult, n), pushPullMs: pushPullScaleMs(config.pushPullIntervalMs, n) }
}

/**
 * HashiCorp's model (memberlist's convergence simulator, as the issue states it):
 * each gossip round a member is reached with p = fanout / N * (1 - loss) * 1/2,
 * and the fraction reached after x rounds is 1 / (1 + (N + 1) e^(-pNx)).
 */
export function modelFraction (rounds: number, n: number, fanout: number, loss: number): number {
  const pn = fanout * (1 - loss) / 2
  return 1 / (1 + (n + 1) * Math.exp(-pn * rounds))
}

/**
 * Rounds until the model reaches `fraction`; a fraction of 1 means every member,
 * taken as fewer than half a member left: 1 - 1 / (2N).
 */
export function modelRounds (fraction: number, n: number, fanout: number, loss: number): number {
  const f = Math.min(fraction, 1 - 1 / (2 * n))
  const pn = fanout * (1 - loss) / 2
  return Math.log((n + 1) * f / (1 - f)) / pn
}

/** Members of `n` that make `fraction` of them, rounded up (99.99 % of 1,000 is all 1,000). */
export function membersFor (fraction: number, n: number): number {
  return Math.min(n, Math.ceil(fraction * n - 1e-9))
}
