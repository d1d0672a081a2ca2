/**
 * The members as the work core sees them (`Peer`), kept from membership's
 * member events: alive and suspect members take part, failed and left ones
 * lose their leases. The agent and the simulator feed the work core through
 * it alike.
 */
import { sameTags, type Member } from '../membership/index.ts'
import type { Peer } from './types.ts'

export class PeerView {
  readonly #peers = new Map<string, Peer>()

  /**
   * A member's record changed (or, `forgotten`, it was reaped). Returns
   * whether the work core must hear of it (`peers()` to its `members`): a
   * member came or went, turned alive or not, or changed its name or tags;
   * suspicion alone changes nothing here. Kept per event, so that a batch of
   * events costs one pass over the members, not a sorted copy per batch.
   */
  changed (member: Member, forgotten = false): boolean {
    if (forgotten) return this.#peers.delete(member.id)
    const alive = member.status === 'alive' || member.status === 'suspect'
    const before = this.#peers.get(member.id)
    if (before != null && before.alive === alive && before.name === member.name && sameTags(before.tags, member.tags)) return false
    this.#peers.set(member.id, { id: member.id, name: member.name, alive, tags: member.tags })
    return true
  }

  peers (): Peer[] {
    return [...this.#peers.values()]
  }
}
