/**
 * When this node sends its full state on another member's request (the
 * answer to its sync, the exchange its differing digest asked for).
 *
 * A request costs its sender a few bytes and this node an entry per member,
 * so one member could otherwise keep it busy encoding. A member gets an
 * answer at most once per `syncAnswerGapMs`: a request within its gap is
 * answered once, at the gap's end, with the state then (a process resuming
 * from a stall finds every sync sent to it meanwhile at once; a digest can
 * follow an answer by milliseconds, and losing it would leave the views apart
 * until the next push-pull). All requesters together get at most
 * `syncAnswerMembersPerSecond` entries a second (each answer costs the view's
 * size; one goes out while any of the allowance is left): past it, and past
 * MAX_MEMBERS members waiting, a request is declined, and the requester's
 * next round asks again.
 */
import type { MemberId } from './types.ts'
import type { State } from './state.ts'
import { setNewest } from './bounded-map.ts'

/** Members whose last answer (and pending request) is remembered. */
const MAX_MEMBERS = 256

export interface SyncAnswers {
  /** When each member last got this node's full state on its request; the oldest dropped first. */
  last: Map<MemberId, number>
  /** Requests folded into one answer at the end of their member's gap: when, and whether any asked for the member's state back (a digest's exchange). */
  pending: Map<MemberId, { at: number, reply: boolean }>
  /** The earliest pending answer (Infinity: none). */
  nextAt: number
  /** Entries of this second's allowance left (negative: the last answer's debt), as of `budgetAt`. */
  budget: number
  budgetAt: number
}

export function createSyncAnswers (membersPerSecond: number, now: number): SyncAnswers {
  return { last: new Map(), pending: new Map(), nextAt: Infinity, budget: membersPerSecond, budgetAt: now }
}

/**
 * A request from `from` (`reply`: it also wants to send its state back): true
 * when it is to be answered now (counted against the allowance); otherwise it
 * waits for the end of the member's gap, or is declined.
 */
export function admit (state: State, from: MemberId, reply: boolean): boolean {
  const answers = state.syncAnswers
  const last = answers.last.get(from)
  const gap = state.config.syncAnswerGapMs
  if (last != null && state.now - last < gap) {
    const pending = answers.pending.get(from)
    if (pending != null) {
      pending.reply ||= reply
    } else if (answers.pending.size < MAX_MEMBERS) {
      answers.pending.set(from, { at: last + gap, reply })
      answers.nextAt = Math.min(answers.nextAt, last + gap)
    } else {
      state.stats.syncsDeclined++
      return false
    }
    state.stats.syncsDeferred++
    return false
  }
  return spend(state, from)
}

/** The pending answers due now, taken out: each member, and whether it asked for a reply. */
export function takeDueAnswers (state: State): Array<{ id: MemberId, reply: boolean }> {
  const answers = state.syncAnswers
  const due: Array<{ id: MemberId, reply: boolean }> = []
  let next = Infinity
  for (const [id, p] of answers.pending) {
    if (p.at > state.now) {
      next = Math.min(next, p.at)
      continue
    }
    answers.pending.delete(id)
    if (state.members.has(id) && spend(state, id)) due.push({ id, reply: p.reply })
  }
  answers.nextAt = next
  return due
}

/** Counts an answer to `from` now against the allowance: false (declined) when none is left. */
function spend (state: State, from: MemberId): boolean {
  const answers = state.syncAnswers
  const rate = state.config.syncAnswerMembersPerSecond
  if (rate > 0) {
    answers.budget = Math.min(rate, answers.budget + (state.now - answers.budgetAt) * rate / 1000)
    answers.budgetAt = state.now
    if (answers.budget <= 0) {
      state.stats.syncsDeclined++
      return false
    }
    answers.budget -= state.members.size + 1
  }
  setNewest(answers.last, from, state.now, MAX_MEMBERS)
  return true
}
