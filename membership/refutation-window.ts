/**
 * How long proofs of life took lately, as this node saw them: refutations, from
 * the moment it began suspecting a member to the moment that member's
 * refutation arrived, and acks that missed the probe timeout, from the ping
 * (probe.ts noteAckSpan; both through merge.ts noteProofOfLife). A suspicion
 * that runs out sooner than refutations are arriving marks a live member
 * failed, so the core holds each suspicion for a multiple of the slowest
 * recent one (timers.ts, `suspicionRefutationMult`).
 *
 * A sliding-window maximum: spans kept in arrival order with decreasing
 * lengths (a newer, longer span makes every shorter one before it irrelevant),
 * so the first one still in the window is the longest. At most MAX_SPANS are
 * kept, so each step is bounded whatever the input.
 */

/** More spans than this (each shorter than the one before) and the oldest go first. */
const MAX_SPANS = 64

export interface RefutationWindow {
  /** When each span ended (its refutation arrived), oldest first. */
  at: number[]
  /** Each span's length, strictly decreasing. */
  ms: number[]
}

export function createRefutationWindow (): RefutationWindow {
  return { at: [], ms: [] }
}

/** A refutation arrived at `now`, `spanMs` after this node began suspecting the member. */
export function noteRefutation (w: RefutationWindow, now: number, spanMs: number): void {
  if (!(spanMs > 0) || !Number.isFinite(spanMs)) return
  while (w.ms.length > 0 && w.ms[w.ms.length - 1] <= spanMs) {
    w.ms.pop()
    w.at.pop()
  }
  w.ms.push(spanMs)
  w.at.push(now)
  if (w.ms.length > MAX_SPANS) {
    w.ms.shift()
    w.at.shift()
  }
}

/** The longest span that ended within the last `windowMs` before `now`; 0 if none. Drops the spans that left the window. */
export function slowestRefutationMs (w: RefutationWindow, now: number, windowMs: number): number {
  while (w.at.length > 0 && w.at[0] < now - windowMs) {
    w.at.shift()
    w.ms.shift()
  }
  return w.ms.length > 0 ? w.ms[0] : 0
}
