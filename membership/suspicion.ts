/**
 * One suspicion timer (Lifeguard, memberlist's suspicion.go), as plain state:
 * the deadline starts at the maximum timeout and moves towards the minimum
 * with each independent confirmation. "Connection refused" evidence caps it at
 * a short fixed window instead.
 */
import type { MemberId } from './types.ts'
import { suspicionTimeoutMs } from './formulas.ts'

export interface Suspicion {
  /** Core time the suspicion started. */
  startedAt: number
  /** Confirmations expected before the timeout reaches `minMs`. */
  k: number
  minMs: number
  maxMs: number
  /** Everyone who accused the member, the first accuser included (it does not count as a confirmation). */
  accusers: Set<MemberId>
  /** Independent confirmations counted so far (at most k). */
  confirmations: number
  /** Set when the transport reported the member's process refusing connections. */
  refusedDeadline?: number
  /** True when this node raised the suspicion itself because its ping was refused. */
  raisedOnRefusal: boolean
  /** Not before this time (set after this process stalled, to let refutations arrive). */
  notBefore: number
  /** A last direct probe (buddy ping) was sent before the timeout runs out. */
  verified: boolean
  /** The timeout was stretched once for this node's poor local health (stretchForLocalHealth). */
  stretched: boolean
  /** When the member is declared failed unless it refutes. */
  deadline: number
}

export function startSuspicion (now: number, from: MemberId, k: number, minMs: number, maxMs: number): Suspicion {
  const s: Suspicion = {
    startedAt: now,
    k,
    minMs,
    maxMs,
    accusers: new Set([from]),
    confirmations: 0,
    raisedOnRefusal: false,
    notBefore: 0,
    verified: false,
    stretched: false,
    deadline: 0
  }
  s.deadline = computeDeadline(s)
  return s
}

/**
 * Records an accusation from `from`. Returns true when it was a new
 * independent confirmation (worth re-gossiping), which also shortens the timeout.
 */
export function confirmSuspicion (s: Suspicion, from: MemberId): boolean {
  if (s.confirmations >= s.k) return false
  if (s.accusers.has(from)) return false
  s.accusers.add(from)
  s.confirmations++
  s.deadline = computeDeadline(s)
  return true
}

/** Positive evidence of a crash: the member fails after `timeoutMs` unless it refutes. */
export function markRefused (s: Suspicion, now: number, timeoutMs: number): void {
  const at = now + timeoutMs
  s.refusedDeadline = s.refusedDeadline == null ? at : Math.min(s.refusedDeadline, at)
  s.deadline = computeDeadline(s)
}

/**
 * Lifeguard, for the accuser: a suspicion that runs out while this node is
 * starved of CPU (`score` > 0 only after late timers: it may be the slow one,
 * and the refutation may be sitting unread in its own sockets) gets once more
 * `score` × the minimum timeout. Not a suspicion with crash evidence (a refused
 * connection). Returns whether it stretched the deadline.
 */
export function stretchForLocalHealth (s: Suspicion, now: number, score: number): boolean {
  if (score <= 0 || s.stretched || s.refusedDeadline != null) return false
  s.stretched = true
  postponeSuspicion(s, now + score * s.minMs)
  return true
}

/**
 * Holds a suspicion that would run out sooner than `floorMs` after it began
 * until then, never past the max timeout; not one with crash evidence (a
 * refused connection). The floor is timers.ts's (heldForSlowRefutations: a
 * multiple of the slowest refutation lately). Returns whether it moved the
 * deadline.
 */
export function holdUntilFloor (s: Suspicion, now: number, floorMs: number): boolean {
  if (s.refusedDeadline != null) return false
  const at = s.startedAt + Math.min(floorMs, s.maxMs)
  if (at <= now) return false
  postponeSuspicion(s, at)
  return true
}

/** Pushes the deadline to at least `at` (used after this process stalled). */
export function postponeSuspicion (s: Suspicion, at: number): void {
  s.notBefore = Math.max(s.notBefore, at)
  s.deadline = computeDeadline(s)
}

function computeDeadline (s: Suspicion): number {
  const lifeguard = s.startedAt + suspicionTimeoutMs(s.confirmations, s.k, s.minMs, s.maxMs)
  const base = s.refusedDeadline == null ? lifeguard : Math.min(lifeguard, s.refusedDeadline)
  return Math.max(base, s.notBefore)
}
