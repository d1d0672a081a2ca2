/**
 * The simulated network's public types: what a node holds and is called
 * back with, node states, delay models, counters and options (network.ts).
 */
import type { MemberId, Message, Random, SwimInputs, SwimSender } from '../../membership/index.ts'

/** The SWIM port's inputs (membership/ports.ts), as the libp2p transport calls them. */
export type TransportHandlers = SwimInputs

/** What a node holds: the sending half of the SWIM port. */
export type SimTransport = SwimSender

/**
 * - `up`: runs normally.
 * - `crashed`: the process is gone. With `refuse`, the host answers and
 *   connections are refused (kill -9); without, it is silent (host down).
 * - `frozen`: SIGSTOP. Nothing runs; what arrives is held and handed over on resume.
 */
export type NodeState = 'up' | 'crashed' | 'frozen'

/** A one-way delay in ms, drawn from the network's generator (latency.ts has some). */
export type DelayModel = (random: Random) => number

export interface NetworkStats {
  sent: number
  delivered: number
  lost: number
  refused: number
  held: number
}

/**
 * Called for every message a node sends (traffic accounting). `reachable`: the
 * destination runs and no partition cuts it off, so the message goes on the
 * wire (it may still be lost); otherwise a real transport's dial would fail
 * and nothing but the attempt is sent.
 */
export type SendMeter = (from: MemberId, to: MemberId | undefined, msg: Message, reachable: boolean) => void

export interface NetworkOptions {
  random: Random
  /** One-way latency, uniform in [min, max] ms. Ignored when `latency` is given. */
  latencyMs?: { min: number, max: number }
  /** One-way latency drawn from any distribution. */
  latency?: DelayModel
  /** Default loss rate of every link, in [0, 1]. */
  lossRate?: number
  /**
   * Hand each receiver its own deep copy of a message (default true), as a real
   * transport does by decoding. Off saves the copy at scale: the core builds a
   * new message for every send and copies what it keeps of a received one.
   */
  cloneMessages?: boolean
  meter?: SendMeter
  /** Time to set up a connection (a dial and its handshake); none: every pair is connected from the start. */
  handshake?: DelayModel
  /** How long a dial to a node that cannot answer (frozen, silent, cut off) takes to fail (default 10 s, as the transport's connectTimeoutMs). */
  connectTimeoutMs?: number
}
