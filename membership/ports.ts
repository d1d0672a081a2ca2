/**
 * The SWIM port: what the membership core needs from a network, declared
 * beside the core. gossip/ implements it over libp2p (swim-transport.ts),
 * test/sim/ over a simulated network; one contract suite holds both to it
 * (test/contract/).
 */
import type { CoreDriver } from './driver.ts'
import type { Membership } from './index.ts'
import type { DeliveryFailure, Destination, Effect, MemberId, Message } from './types.ts'

/** The outgoing half: the core's `send` effects go here. */
export interface SwimSender {
  /** Queues `msg` for `to`. Never throws, never blocks; a failure comes back as onDeliveryFailed. */
  send: (to: Destination, msg: Message) => void
}

/** The incoming half: what the network tells the core. */
export interface SwimInputs {
  /** A valid message arrived; `from` is the authenticated sender. */
  onMessage: (from: MemberId, msg: Message) => void
  /** `msg` could not be delivered to `to`. */
  onDeliveryFailed: (to: Destination, msg: Message, reason: DeliveryFailure) => void
  /** The last connection to `id` closed: a hint to probe it soon. */
  onPeerDisconnected: (id: MemberId) => void
  /**
   * `msg` (a ping) waits for a connection to `to` being set up. Optional: a
   * transport without handshakes never calls it. Each is followed by
   * onSentAfterConnecting or onDeliveryFailed for the same message.
   */
  onConnecting?: (to: Destination, msg: Message) => void
  /** A message reported to onConnecting went out. */
  onSentAfterConnecting?: (to: Destination, msg: Message) => void
}

/** The port's inputs fed to `core` through `driver`, each at the driver's time. */
export function swimInputs (driver: CoreDriver<Effect>, core: Pick<Membership, 'receive' | 'deliveryFailed' | 'peerDisconnected' | 'connecting' | 'sentAfterConnecting'>): SwimInputs {
  return {
    onMessage: (from, msg) => { driver.drive(now => core.receive(now, from, msg)) },
    onDeliveryFailed: (to, msg, reason) => { driver.drive(now => core.deliveryFailed(now, to, msg, reason)) },
    onPeerDisconnected: (id) => { driver.drive(now => core.peerDisconnected(now, id)) },
    onConnecting: (to, msg) => { driver.drive(now => core.connecting(now, to, msg)) },
    onSentAfterConnecting: (to, msg) => { driver.drive(now => core.sentAfterConnecting(now, to, msg)) }
  }
}
