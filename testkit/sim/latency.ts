/**
 * Delay distributions for the simulated network (network.ts DelayModel).
 * Every draw comes from the generator passed in, so a seed replays them.
 */
import type { DelayModel } from './network.ts'

/** Uniform in [min, max] ms. */
export function uniform (min: number, max: number): DelayModel {
  return random => min + random() * (max - min)
}

/** Exponential with the given mean (ms): most draws small, a long tail. */
export function exponential (meanMs: number): DelayModel {
  return random => -meanMs * Math.log(1 - random())
}

/**
 * Log-normal: `medianMs * e^(sigma * Z)` with Z standard normal, plus a floor
 * and a cap. Network round trips are skewed this way: a tight body, a tail
 * an order of magnitude longer.
 */
export function logNormal (medianMs: number, sigma: number, opts: { minMs?: number, maxMs?: number } = {}): DelayModel {
  const min = opts.minMs ?? 0
  const max = opts.maxMs ?? Infinity
  return random => {
    // Box-Muller; 1 - u keeps the logarithm finite.
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
    return Math.min(max, Math.max(min, medianMs * Math.exp(sigma * z)))
  }
}

/** The `q` quantile of a log-normal (for reports): median * e^(sigma * z_q). */
export function logNormalQuantile (medianMs: number, sigma: number, zq: number): number {
  return medianMs * Math.exp(sigma * zq)
}
