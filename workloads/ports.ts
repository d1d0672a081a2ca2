/**
 * The work port: what the work core needs from a network, declared beside
 * the core. gossip/work-transport.ts implements it over a gossipsub topic and
 * direct streams, test/sim/ over the simulated network.
 *
 * Delivery is best effort on both: the core's timers (claim timeout, lease
 * expiry, re-offers, resync) recover what is lost, so nothing is reported back.
 * What arrives goes to the core's `receive(now, from, msg)`, `from` being the
 * authenticated sender.
 */
import type { MemberId } from '../membership/types.ts'
import type { WorkMessage } from './types.ts'

/** The outgoing half: the core's `publish` and `send` effects go here. */
export interface WorkSender {
  /** To every member that hears the cluster's work topic. */
  publish: (msg: WorkMessage) => void
  /** To one member. */
  send: (to: MemberId, msg: WorkMessage) => void
}
