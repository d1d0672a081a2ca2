/**
 * Lifeguard's missed nacks: a probe that failed without every nack it
 * expected raises this node's local-health score by the nacks missing
 * (memberlist's awareness), as a sign that this node is the slow or cut-off
 * one. Told apart here from intermediaries that are cut off from us.
 *
 * A silent intermediary counts once we hear from it again (within
 * HEARD_AGAIN_INTERVALS probe intervals; at once if it already spoke since
 * we asked): it could reach us, so its nack was lost on our side, or sat
 * unread while this process was starved (a late nack is such a message).
 * One we do not hear from again counts only if nobody else spoke to us
 * either in that time: then this node may be the one cut off. If others did,
 * the silent one is on the far side of a cut (a partition's other side, heard
 * from just before it and so expected to nack), and its silence says nothing
 * about our health. Counted at once, as memberlist does, those misses put a
 * partition's minority members whose ring successors were all on the other
 * side at the worst health within seconds of the cut, where they stayed
 * (only an ack lowers it), probing one member every 8 s (docs/scale.md).
 */
import type { MemberId } from './types.ts'
import type { Probe, State } from './state.ts'
import { setNewest } from './bounded-map.ts'

/** How long a silent intermediary has to speak again, in probe intervals. */
const HEARD_AGAIN_INTERVALS = 5
/** Silent intermediaries remembered; more and the one noted longest ago goes uncounted. */
const MAX_PENDING = 128

/** An intermediary that did not nack: its misses count if it speaks again, or if nobody does. */
export interface SilentIntermediary {
  /** Nacks it missed. */
  misses: number
  /** When we last asked it (a ping-req): a message from anyone since says that we can hear. */
  askedAt: number
  /** Until when a message from it makes its misses count. */
  until: number
}

/** Counts the nacks a failed probe missed, now or once it is known whose silence it was. */
export function countMissedNacks (state: State, probe: Probe): void {
  settleExpired(state)
  // Without intermediaries we expected to nack any failure counts.
  if (probe.expectedNacks === 0) {
    state.awareness.apply(1)
    return
  }
  const until = state.now + HEARD_AGAIN_INTERVALS * state.config.probeIntervalMs
  for (const id of probe.intermediaries) {
    if (probe.nacks.has(id) || probe.unreachable.has(id)) continue
    if ((state.heardAt.get(id) ?? -Infinity) >= probe.indirectAt) {
      state.awareness.apply(1)
      continue
    }
    const misses = (state.silentIntermediaries.get(id)?.misses ?? 0) + 1
    setNewest(state.silentIntermediaries, id, { misses, askedAt: probe.indirectAt, until }, MAX_PENDING)
  }
}

/** A message from `from` arrived: the nacks it missed lately count now. */
export function heardAgain (state: State, from: MemberId): void {
  const silent = state.silentIntermediaries.get(from)
  if (silent == null) return
  state.silentIntermediaries.delete(from)
  // Past its time it is settled as settleExpired would have: only if nobody else spoke meanwhile.
  if (state.now <= silent.until || !heardFromAnyoneSince(state, silent.askedAt, from)) state.awareness.apply(silent.misses)
}

/**
 * Intermediaries that stayed silent past their time: their misses count if
 * nobody else spoke to us since we asked them. Run as probes fail, which is
 * when a node cut off from everyone needs its health lowered.
 */
function settleExpired (state: State): void {
  for (const [id, silent] of state.silentIntermediaries) {
    if (state.now <= silent.until) continue
    state.silentIntermediaries.delete(id)
    if (!heardFromAnyoneSince(state, silent.askedAt)) state.awareness.apply(silent.misses)
  }
}

/** True when a member other than `except` sent us a message at or after `since`. */
function heardFromAnyoneSince (state: State, since: number, except?: MemberId): boolean {
  for (const [id, at] of state.heardAt) if (at >= since && id !== except) return true
  return false
}
