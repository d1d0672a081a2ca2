/**
 * Probe turns: the members that probe one member take turns on a grid of
 * shared time, one per probe interval, instead of each going round its
 * successors in its own order and phase.
 *
 * With the ring (neighbors.ts), a member is probed by its `probeNeighbors`
 * predecessors, each going round its successors once every probeNeighbors
 * intervals. In rounds drawn afresh (SWIM's randomized round-robin), each on
 * its own clock, those probes fall at random: in the simulator, at 10 members,
 * a frozen member's first probe came 0.9 s after the freeze on average and
 * over 2.3 s after it in one freeze of ten, which a 4-s suspicion timeout then
 * adds to (docs/scale.md, "Probe turns").
 *
 * Here time is cut into slots of one probe interval, counted in shared time
 * (the wall clock every member reads, fixed against the core's own clock when
 * the core is made, so a clock step later does not move it). In slot k a node
 * probes its successor at position k mod L of its successor list (L long), at
 * an offset within the slot drawn from that successor's id. The predecessor at
 * distance d of a member probes it in the slots with k mod L = d - 1, at the
 * offset every predecessor computes alike: the member is probed once per
 * interval, at the same moment of each, by each predecessor in turn, and the
 * first probe after a freeze comes within one interval. Members whose clocks
 * are apart by more than a slot (no NTP) take turns that overlap at random, as
 * rounds of their own did: no worse. A node in poor local health (Lifeguard)
 * leaves the turns for rounds of its own, once per scaled interval.
 */
import { hash32 } from './hash.ts'
import type { MemberId } from './types.ts'
import { isLive, type State } from './state.ts'
import { ringSuccessors } from './ring-view.ts'
import { probing, startProbe } from './probe.ts'

/**
 * The successors to probe by turns, or undefined when probes do not go by
 * turns: they do when a shared clock was given, the members probe along the
 * ring, and this node is in good health. A node in poor health (Lifeguard)
 * probes once per scaled interval, in a round of its own: taking every
 * (score + 1)th turn instead would probe only some successors whenever
 * score + 1 and the list's length share a factor (in a 250-member partition,
 * the minority took a fifth longer to fail the majority).
 */
export function turnSuccessors (state: State): MemberId[] | undefined {
  return state.sharedClockOffsetMs != null && state.awareness.score === 0 ? ringSuccessors(state) : undefined
}

/**
 * Probes the successor whose turn it is (at `state.probeSlot`), or waits for
 * it if the successors changed and its moment is still to come; then sets
 * `nextProbeAt` to the next turn. A turn more than a slot past (the node
 * probed in rounds of its own until now) is not taken.
 */
export function takeProbeTurn (state: State, successors: MemberId[]): void {
  const slot = state.probeSlot
  const at = slotTime(state, slot, successors)
  if (at > state.now) {
    state.nextProbeAt = at
    return
  }
  const rec = state.members.get(successors[positionOf(slot, successors.length)])
  if (at >= state.now - state.config.probeIntervalMs && rec != null && isLive(rec.member) && !probing(state, rec.member.id)) startProbe(state, rec)
  scheduleNextProbeTurn(state, state.now, successors)
}

/** Sets `probeSlot` and `nextProbeAt` to the first turn after core time `after`. */
export function scheduleNextProbeTurn (state: State, after: number, successors: MemberId[]): void {
  const interval = state.config.probeIntervalMs
  // The slot `after` falls in, or the one before: its turn can come later than `after` still.
  for (let slot = Math.floor(toShared(state, after) / interval) - 1; ; slot++) {
    const at = slotTime(state, slot, successors)
    if (at > after) {
      state.probeSlot = slot
      state.nextProbeAt = at
      return
    }
  }
}

/** Core time of slot `slot`'s probe: the slot's start plus its successor's offset (the ring's list is never empty). */
function slotTime (state: State, slot: number, successors: MemberId[]): number {
  const interval = state.config.probeIntervalMs
  return slot * interval + hash32(successors[positionOf(slot, successors.length)]) % interval - (state.sharedClockOffsetMs ?? 0)
}

/** Position in a successor list of `length` probed in `slot` (slots before the epoch count too). */
function positionOf (slot: number, length: number): number {
  return ((slot % length) + length) % length
}

function toShared (state: State, coreTime: number): number {
  return coreTime + (state.sharedClockOffsetMs ?? 0)
}
