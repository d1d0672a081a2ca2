/**
 * `--test-faults`: link faults commanded from outside the process, for the
 * test kit's `processes` mode (testkit/processes.ts), as Akka's test
 * transport is switched on by configuration. With it, `PUT /v1/test/drop-from
 * {"peers": [peer id, …]}` makes the agent drop every message from those
 * peers on arrival (the acceptFrom hook of accept-from.ts), SWIM and work
 * alike: a cut link, seen by both ends as silence. `--test-drop-from PEER`
 * (repeated) gives the set to start with, so that an agent restarted behind
 * a cut never hears from across it, not even before its first command.
 * Without the flag the endpoint does not exist. The flag needs the control
 * API on loopback: it is for tests on one machine, never for an agent others
 * can reach.
 */
import { HttpError, parseJsonBody } from './http-error.ts'
import type { AcceptFrom } from './accept-from.ts'

/** At most this many peers in one command: a bound on what one request can make the agent hold. */
export const MAX_DROPPED_PEERS = 10_000

/** The peers whose messages are dropped now. */
export class DroppedPeers {
  #peers: Set<string>

  constructor (peers: string[] = []) { this.#peers = new Set(peers) }

  /** Replaces the whole set (a command states the faults as they are, so that a repeated one is harmless). */
  set (peers: string[]): void { this.#peers = new Set(peers) }

  list (): string[] { return [...this.#peers] }

  /** `accept` combined with this set: a dropped peer is refused whatever `accept` says. */
  acceptFrom (accept: AcceptFrom | undefined): AcceptFrom {
    return peerId => !this.#peers.has(peerId) && (accept == null || accept(peerId))
  }
}

/** A list of peer ids as a command (or `--test-drop-from`) may give it: at most MAX_DROPPED_PEERS. */
export function isPeerList (peers: unknown): peers is string[] {
  return Array.isArray(peers) && peers.length <= MAX_DROPPED_PEERS && peers.every(p => typeof p === 'string' && p.length > 0 && p.length <= 128)
}

/** `PUT /v1/test/drop-from` (the new set) and `GET` (the set now). */
export function routeDropFrom (dropped: DroppedPeers, method: string, body: string | undefined): { peers: string[] } {
  if (method === 'PUT') {
    const { peers } = (parseJsonBody(body ?? '') ?? {}) as { peers?: unknown }
    if (!isPeerList(peers)) throw new HttpError(400, `"peers" must be a list of up to ${MAX_DROPPED_PEERS} peer ids`)
    dropped.set(peers)
  }
  return { peers: dropped.list() }
}
