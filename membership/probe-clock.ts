/**
 * How long a probe and a relayed ping wait, from the moment their ping
 * leaves: the probe timeout and interval of SWIM, scaled by Lifeguard's local
 * health, and stretched for a member that answered slowly lately.
 *
 * Patience: a probe waits for a member at least `probePatienceMult` times the
 * slowest ack that member gave this node's own pings lately (within
 * `refutationWindowMs`), up to what local health could stretch the probe
 * timeout to (`awarenessMaxMultiplier` × `probeTimeoutMs`). Where acks take
 * longer than the probe timeout (a host starved by members starting together,
 * or a member loaded to acks of seconds), each probe would fail, suspect a
 * member that is alive, and send the suspicion, its confirmations and the
 * refutation to every member. A member that answered that slowly lately is
 * given that long. Healthy members ack in milliseconds, so a crash is
 * detected as fast as before; a member that was slow lately and then crashes
 * is suspected later, by at most twice the cap.
 *
 * A member that came lately (learned, or back alive) and has not acked this
 * node yet is given `firstAckPatienceMs`: in a start of many, most
 * suspicions came from a member's first probes, before any ack could say
 * how slow it was.
 *
 * Only acks to this node's own pings count, not those relayed by an
 * intermediary (their span includes the wait for the indirect probe), and not
 * one that spans a long stall of this process (it measured the stall).
 */
import type { MemberId } from './types.ts'
import { spansLongStall, type Probe, type Relay, type State } from './state.ts'
import { setNewest } from './bounded-map.ts'

/** Share of the probe timeout an intermediary waits before sending a nack. */
const NACK_FRACTION = 0.8

export interface AckSpan {
  /** How long the slowest recent ack took, from the ping. */
  ms: number
  /** When it arrived. */
  at: number
}

/** Members whose acks are remembered; more and the one noted longest ago goes. */
const MAX_ACK_SPANS = 256

/**
 * A probe's clock: indirect probes after the timeout, failure at the interval
 * (both health-scaled), each phase at least the target's patience.
 */
export function probeClock (state: State, target: MemberId): Pick<Probe, 'indirectAt' | 'deadline'> {
  const { now, config, awareness } = state
  const direct = Math.max(awareness.scale(config.probeTimeoutMs), patienceFor(state, target))
  return { indirectAt: now + direct, deadline: now + direct + indirectPhaseMs(state, target) }
}

/** How long a probe waits for the indirect probes' acks: the rest of the (health-scaled) interval, or the target's patience. */
export function indirectPhaseMs (state: State, target: MemberId): number {
  const { config, awareness } = state
  return Math.max(awareness.scale(config.probeIntervalMs - config.probeTimeoutMs), patienceFor(state, target))
}

/**
 * A relay's clock: the nack before the origin's timeout, kept until the
 * origin's probe is surely over (longer for a target that was slow to answer
 * us lately: the origin will likely wait for it too).
 */
export function relayClock (state: State, target: MemberId): Pick<Relay, 'nackAt' | 'expiresAt'> {
  const { now, config } = state
  return { nackAt: now + Math.floor(config.probeTimeoutMs * NACK_FRACTION), expiresAt: now + config.probeIntervalMs + patienceFor(state, target) }
}

/** An ack from `target` to our ping sent at `pingedAt` arrived now. */
export function noteDirectAck (state: State, target: MemberId, pingedAt: number): void {
  const { probePatienceMult, firstAckPatienceMs } = state.config
  if ((probePatienceMult === 0 && firstAckPatienceMs === 0) || spansLongStall(state, pingedAt)) return
  const ms = state.now - pingedAt
  const spans = state.ackSpans
  const prev = spans.get(target)
  // The slowest one still in the window stands.
  if (prev != null && prev.ms >= ms && state.now - prev.at <= state.config.refutationWindowMs) return
  setNewest(spans, target, { ms, at: state.now }, MAX_ACK_SPANS)
}

/**
 * How long a probe of `target` waits at least, for its direct ack and again
 * for the indirect ones: by its slowest ack lately, or firstAckPatienceMs if
 * it came lately and has not acked yet; 0 if it acked promptly.
 */
export function patienceFor (state: State, target: MemberId): number {
  const { config } = state
  const span = state.ackSpans.get(target)
  if (span == null || state.now - span.at > config.refutationWindowMs) return firstAckPatience(state, target)
  if (config.probePatienceMult === 0) return 0
  const patience = config.probePatienceMult * span.ms
  // Within the probe timeout the usual clock holds (and a relay keeps its usual expiry).
  if (patience <= config.probeTimeoutMs) return 0
  return Math.min(patience, config.awarenessMaxMultiplier * config.probeTimeoutMs)
}

/** firstAckPatienceMs for a member that came (learned, or back alive) within refutationWindowMs; 0 for one here longer. */
function firstAckPatience (state: State, target: MemberId): number {
  const { config } = state
  const rec = state.members.get(target)
  if (config.firstAckPatienceMs <= config.probeTimeoutMs || rec == null || state.now - rec.statusSince > config.refutationWindowMs) return 0
  return config.firstAckPatienceMs
}
