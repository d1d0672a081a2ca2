/**
 * Free-slot gossip as a worker sees it: the free slots other members
 * published (`capacity` messages), when this node publishes its own, and the
 * claim weights of the rendezvous ranking that both give (rendezvous.ts).
 * Sans-IO, like the worker (worker.ts) that holds it.
 */
import type { WorkConfig } from './config.ts'
import { claimWeight, type Candidate } from './rendezvous.ts'
import type { MemberId, Peer, WorkMessage } from './types.ts'

export class CapacityBook {
  readonly #config: WorkConfig
  /** Free slots other members published. */
  readonly #free = new Map<MemberId, number>()
  #nextPublishAt = -Infinity
  #publishedFree = -1

  constructor (config: WorkConfig) {
    this.#config = config
  }

  /**
   * When publish() next has something to do, with `free` slots now: never
   * while they are what was last published (an idle node does not wake
   * every capacityIntervalMs to find that out; a task's start or end is an
   * input, after which this is asked again).
   */
  dueAt (free: number): number {
    return free === this.#publishedFree ? Infinity : this.#nextPublishAt
  }

  /** `from` published its free slots. */
  heard (from: MemberId, free: number): void {
    this.#free.set(from, free)
  }

  /** Forgets what members no longer alive published. */
  forget (alive: (id: MemberId) => boolean): void {
    for (const id of this.#free.keys()) if (!alive(id)) this.#free.delete(id)
  }

  /**
   * This node's capacity message, once per capacityIntervalMs and only if its
   * free slots changed since the last one (undefined: nothing to publish).
   * `free` is asked only when the interval has passed.
   */
  publish (now: number, free: () => number): WorkMessage | undefined {
    if (now < this.#nextPublishAt) return undefined
    let msg: WorkMessage | undefined
    const freeNow = free()
    if (freeNow !== this.#publishedFree) {
      this.#publishedFree = freeNow
      msg = { type: 'capacity', free: freeNow, slots: this.#config.slots }
    }
    this.#nextPublishAt = now + this.#config.capacityIntervalMs
    return msg
  }

  /** Alive members weighted by their free slots (ours: exact; others: as last published, else all slots). */
  candidates (self: MemberId, selfFree: number, peers: Iterable<Peer>): Candidate[] {
    const out: Candidate[] = [{ id: self, weight: claimWeight(selfFree) }]
    for (const peer of peers) {
      if (peer.id === self || !peer.alive) continue
      out.push({ id: peer.id, weight: claimWeight(this.#free.get(peer.id) ?? this.#config.slots) })
    }
    return out
  }
}
