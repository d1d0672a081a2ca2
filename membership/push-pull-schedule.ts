/**
 * When this node's push-pulls come: once a period (longer in a larger
 * cluster: formulas.ts pushPullScaleMs), and early, in a series whose gaps
 * double (each randomized in [1/2, 1] of its gap) until they reach the
 * period, after this node joined or after it refuted a verdict of failure
 * about itself. A push-pull starts with a digest, a few bytes; the full states
 * follow only while the two views differ.
 */
import { stagger } from './random.ts'
import { liveCount, type State } from './state.ts'
import { pushPullScaleMs } from './formulas.ts'

/**
 * After a join, the first early push-pull comes within this many probe
 * intervals. Members that join around the same time miss each other's
 * announcements: an update reaches a member through its ring neighbours, and a
 * joiner is on nobody's ring until its own announcement has spread. One early
 * round, taken while the crowd was still joining, found the neighbour's view
 * as short as its own, and what was missing then waited a whole period (60 s
 * at 50 members, 90 s at 100): the tail of a 50- or 100-agent start
 * (docs/scale.md).
 */
const AFTER_JOIN_INTERVALS = 1

/**
 * After refuting a verdict of failure, the first early push-pull comes within
 * this many probe intervals. Members that held this node failed sent it no
 * gossip meanwhile, so what they spread then (after a partition, the other
 * side's refutations) it may never hear but by anti-entropy: at 1,000
 * members one observer held one member failed 40 s after every other view
 * was whole, waiting for a push-pull whose period is 180 s there
 * (docs/scale.md, "The last stale pair of a heal"). Not at once: right after
 * a heal most views still differ, and each early exchange would be two full
 * states; some seconds on, only the views still behind do (from 4 intervals,
 * the same heal took 7 % more full exchanges than from 8).
 */
const AFTER_VERDICT_INTERVALS = 8

/** Starts a series whose first push-pull comes within `firstIntervals` probe intervals; one already running goes on where its gaps are shorter. */
function startEarlySeries (state: State, firstIntervals: number): void {
  const first = firstIntervals * state.config.probeIntervalMs
  state.nextPushPullAt = Math.min(state.nextPushPullAt, state.now + stagger(state.random, first))
  const running = state.earlyPushPullGapMs
  state.earlyPushPullGapMs = running === 0 ? 2 * first : Math.min(running, 2 * first)
}

/** This node's join was answered: its push-pulls come early for a while. */
export function pushPullEarlyAfterJoin (state: State): void {
  startEarlySeries(state, AFTER_JOIN_INTERVALS)
}

/**
 * A verdict of failure about this node at `incarnation` (gossiped, or a sync
 * entry holding it failed), before it is refuted: its push-pulls come early
 * for a while, even if the series of its join is still running (at 1,000
 * members that one lasts minutes, and its gaps are a minute long by then).
 * Only a verdict on the incarnation this node is at counts: those that come
 * after its refutation are the same cut, heard from more members.
 */
export function pushPullEarlyAfterVerdict (state: State, incarnation: number): void {
  if (incarnation < state.self.incarnation || state.self.status === 'left') return
  startEarlySeries(state, AFTER_VERDICT_INTERVALS)
}

/** The wait from this push-pull to the next: the early series' next gap, or the period. */
export function nextPushPullGapMs (state: State): number {
  const period = pushPullScaleMs(state.config.pushPullIntervalMs, liveCount(state))
  const gap = state.earlyPushPullGapMs
  if (gap === 0 || gap >= period) {
    state.earlyPushPullGapMs = 0
    return period
  }
  state.earlyPushPullGapMs = 2 * gap
  return stagger(state.random, gap)
}
