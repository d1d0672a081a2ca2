/**
 * The core's timers, kept as deadlines in state: which one comes next, what
 * runs when they pass (`tick`), and what a stall of this process (a deadline
 * long overdue) does to them: late timers count against local health, probes
 * in flight are dropped, suspicions get a grace period.
 */
import { reconnectScaleMs } from './formulas.ts'
import { stagger } from './random.ts'
import { holdUntilFloor, postponeSuspicion, stretchForLocalHealth, type Suspicion } from './suspicion.ts'
import { slowestRefutationMs } from './refutation-window.ts'
import { failSuspect, reap } from './merge.ts'
import { probeDeadline, probeNext, tickProbes, verifySuspect } from './probe.ts'
import { scheduleNextProbeTurn, takeProbeTurn, turnSuccessors } from './probe-turns.ts'
import { gossipRound } from './dissemination.ts'
import { pushPull, reconnect, retryJoin, sendDueAnswers } from './sync.ts'
import { nextPushPullGapMs } from './push-pull-schedule.ts'
import { isSelfLeft, liveCount, type MemberRecord, type State } from './state.ts'
import { memberDeadline, reapAfterMs, takeDueReaps, takeDueSuspects, touchSuspicion, track } from './member-index.ts'

/** A stall (see advanceClock()) this many probe intervals long or longer is followed by a push-pull at once. */
const STALL_SYNC_INTERVALS = 5

/**
 * Moves the clock. A deadline overdue by more than a probe interval means this
 * process did not run (SIGSTOP, a blocked event loop, a suspended VM): whatever
 * was timed during that gap says nothing about the others, so in-flight probes
 * are dropped without a verdict, running suspicions get a short grace period for
 * refutations still queued; after a long stall, a push-pull is done at once to
 * catch up (its digest differs, so the full states follow). Only after a long
 * one: a process starved of CPU (dozens of agents starting on two cores) is
 * late by a second or two over and over, and a full sync each time, answered
 * with another, was most of what kept it starved.
 */
export function advanceClock (state: State, now: number): void {
  const config = state.config
  const t = Number.isFinite(now) ? Math.max(now, state.now) : state.now
  // Measured from the previous input at the earliest: an input that moved a
  // deadline into the past (a late confirmation shortening a suspicion) asked
  // for a tick at once, and that tick is not late.
  const overdue = t - Math.max(nextDeadline(state), state.now)
  state.now = t
  if (overdue > config.probeTimeoutMs) lateTimer(state, t)
  if (overdue > config.probeIntervalMs) recoverFromStall(state, t, overdue >= STALL_SYNC_INTERVALS * config.probeIntervalMs)
}

/**
 * Lifeguard: a timer late by more than a probe timeout means this process is
 * starved of CPU (or was stopped), and the acks it waits for may be sitting
 * unread in its own sockets: one point of local health per (scaled) probe
 * interval, so that a starved node probes more patiently instead of accusing
 * members that answered in time. Successful probes bring it back down.
 */
function lateTimer (state: State, now: number): void {
  // At most once per probe interval as scaled by health: as often as a successful
  // probe can bring it back down, so that health does not stick at its maximum
  // while timers are late now and then.
  if (now - state.lastLateAt < state.awareness.scale(state.config.probeIntervalMs)) return
  state.lastLateAt = now
  state.awareness.apply(1)
}

/**
 * The health score to stretch a suspicion by: only when a late timer showed this
 * process starved since the suspicion began. Missed nacks alone do not count: a
 * node on the minority side of a partition misses them too, and it must find
 * the other side failed as fast as the majority does.
 */
function starvedScore (state: State, since: number): number {
  return state.lastLateAt >= since ? state.awareness.score : 0
}

/**
 * A suspicion runs for at least suspicionRefutationMult times the slowest
 * refutation seen lately: where refutations take that long, its minimum
 * timeout would mark live members failed (docs/design.md).
 */
function heldForSlowRefutations (state: State, s: Suspicion, t: number): boolean {
  const mult = state.config.suspicionRefutationMult
  if (mult <= 0) return false
  const slowestMs = slowestRefutationMs(state.refutationSpans, t, state.config.refutationWindowMs)
  if (!holdUntilFloor(s, t, mult * slowestMs)) return false
  state.stats.suspicionsHeld++
  return true
}

function recoverFromStall (state: State, now: number, sync: boolean): void {
  const config = state.config
  state.probes.clear()
  state.relays.clear()
  // Every suspect is in the index (none is taken out between inputs).
  for (const rec of [...state.index.suspicionOf.keys()]) {
    if (rec.suspicion == null) continue
    postponeSuspicion(rec.suspicion, now + 2 * config.probeIntervalMs)
    rec.suspicion.verified = false
    touchSuspicion(state, rec)
  }
  const successors = turnSuccessors(state)
  if (successors != null) scheduleNextProbeTurn(state, now, successors)
  else state.nextProbeAt = now + stagger(state.random, config.probeIntervalMs)
  state.nextGossipAt = now
  if (sync) {
    state.lastLongStallAt = now
    state.nextPushPullAt = now
    state.nextReconnectAt = now
  }
  if (state.join != null) state.join.nextRetryAt = now
}

export function nextDeadline (state: State): number {
  let d = Infinity
  if (!isSelfLeft(state)) {
    d = Math.min(state.nextProbeAt, state.nextPushPullAt, probeDeadline(state))
    if (state.index.failed.size > 0) d = Math.min(d, state.nextReconnectAt)
    // A gossip round with nothing queued, or no one to send it to (an agent alone), does nothing: no need to wake up for it.
    if (state.broadcasts.size > 0 && state.members.size > 0) d = Math.min(d, gossipDueAt(state))
    if (state.join != null) d = Math.min(d, state.join.nextRetryAt)
    d = Math.min(d, state.partition.nextAt, state.syncAnswers.nextAt)
  }
  // Suspicions (their last check, see verifyAt, and their end) and reaps, from the index.
  return Math.min(d, memberDeadline(state))
}

/**
 * When the next gossip round is due. News queued since the last round (a
 * verdict: a member failed or left; a member that joined through this node)
 * hurries it, to a quarter interval after the last round (and that round
 * sends it to every neighbour lacking it). While
 * other updates are queued (a failure's own suspicion usually is) the rounds
 * run every gossipIntervalMs, so a verdict would wait up to a round at every
 * hop, where an update that finds the queues empty goes on at once (in the
 * simulator at 250 members the verdict's spread went from 0.3-0.5 s to
 * 0.24-0.30 s; docs/scale.md).
 * A quarter interval bounds the rounds when many members fail at once (a
 * partition) or join at once (a start).
 */
function gossipDueAt (state: State): number {
  if (state.broadcasts.news === 0) return state.nextGossipAt
  return state.nextGossipAt - 0.75 * state.config.gossipIntervalMs
}

/**
 * When to send the last direct probe of a suspect (a buddy ping carrying the
 * suspicion): early enough that its ack, and the refutation it provokes or
 * carries, can arrive before the suspicion runs out. Dissemination alone
 * misses a few members now and then; this makes each one check for itself.
 */
function verifyAt (state: State, rec: MemberRecord): number {
  const s = rec.suspicion!
  if (s.verified || rec.refused) return s.deadline
  return Math.min(s.deadline, s.deadline - 2 * state.awareness.scale(state.config.probeIntervalMs))
}

/** Runs whatever is due at `state.now`: probes, suspicions, gossip, syncs, join retries, reaps. */
export function runDue (state: State): void {
  const config = state.config
  const t = state.now
  if (!isSelfLeft(state)) {
    tickProbes(state)
    const due = takeDueSuspects(state, t)
    for (const rec of due) {
      if (rec.member.status !== 'suspect' || rec.suspicion == null) continue
      if (!rec.suspicion.verified && t >= verifyAt(state, rec)) {
        rec.suspicion.verified = true
        verifySuspect(state, rec)
      }
      if (t >= rec.suspicion.deadline && !heldForSlowRefutations(state, rec.suspicion, t) &&
        !stretchForLocalHealth(rec.suspicion, t, starvedScore(state, rec.suspicion.startedAt))) failSuspect(state, rec)
    }
    for (const rec of due) touchSuspicion(state, rec)
    if (t >= state.nextProbeAt) {
      const successors = turnSuccessors(state)
      if (successors != null) takeProbeTurn(state, successors)
      else {
        probeNext(state)
        state.nextProbeAt = t + state.awareness.scale(config.probeIntervalMs)
      }
    }
    if (t >= gossipDueAt(state)) {
      gossipRound(state)
      state.nextGossipAt = t + config.gossipIntervalMs
    }
    if (t >= state.nextPushPullAt) {
      pushPull(state)
      state.nextPushPullAt = t + nextPushPullGapMs(state)
    }
    if (t >= state.nextReconnectAt) {
      reconnect(state)
      state.nextReconnectAt = t + reconnectScaleMs(config.reconnectIntervalMs, liveCount(state))
    }
    if (state.join != null && t >= state.join.nextRetryAt) retryJoin(state)
    if (t >= state.syncAnswers.nextAt) sendDueAnswers(state)
  }
  for (const rec of takeDueReaps(state, t)) {
    const m = rec.member
    if ((m.status === 'failed' || m.status === 'left') && t >= rec.statusSince + reapAfterMs(state, rec)) reap(state, rec)
    else track(state, rec)
  }
}
