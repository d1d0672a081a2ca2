// @ts-nocheck: a frozen copy of membership/awareness.ts before the flat-cost index (membership-flat-lockstep.test.ts)
/**
 * Lifeguard local health ("awareness"), as memberlist's awareness.go: a score
 * that rises when this node shows signs of being the slow or cut-off one
 * (missed nacks, having to refute a suspicion of itself, stalls) and falls
 * with each successful probe. Probe interval and timeout are multiplied by
 * (score + 1), so an unhealthy node probes more patiently instead of accusing
 * healthy members.
 */
import { clampHealth, scaleByHealth } from '../../../membership/formulas.ts'

export class Awareness {
  readonly #maxMultiplier: number
  #score = 0

  constructor (maxMultiplier: number) {
    this.#maxMultiplier = maxMultiplier
  }

  /** 0 is healthy; at most maxMultiplier - 1. */
  get score (): number {
    return this.#score
  }

  /** Adds `delta` (may be negative) and clamps. Returns the new score. */
  apply (delta: number): number {
    this.#score = clampHealth(this.#score + delta, this.#maxMultiplier)
    return this.#score
  }

  /** A duration scaled by the current health: ms * (score + 1). */
  scale (ms: number): number {
    return scaleByHealth(ms, this.#score)
  }
}
