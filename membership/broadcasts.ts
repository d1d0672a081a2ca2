/**
 * Retransmit-limited broadcast queue (memberlist's TransmitLimitedQueue):
 * updates waiting to be piggybacked. At most one update per member is queued
 * (a newer one replaces the older), the least-transmitted go first (newest
 * first among equals), and an update is dropped once sent `limit` times.
 */
import type { MemberId, Update } from './types.ts'

interface Entry {
  update: Update
  transmits: number
  /** Insertion order: larger is newer. */
  order: number
}

export class BroadcastQueue {
  readonly #entries = new Map<MemberId, Entry>()
  #order = 0

  get size (): number {
    return this.#entries.size
  }

  /** Queues `update`, replacing whatever was queued about the same member. */
  queue (update: Update): void {
    this.#entries.set(update.id, { update: cloneUpdate(update), transmits: 0, order: ++this.#order })
  }

  /** The update queued about `id`, if any (a copy). */
  peek (id: MemberId): Update | undefined {
    const entry = this.#entries.get(id)
    return entry == null ? undefined : cloneUpdate(entry.update)
  }

  /** Drops the update queued about `id` when `predicate` accepts it. */
  drop (id: MemberId, predicate: (update: Update) => boolean = () => true): void {
    const entry = this.#entries.get(id)
    if (entry != null && predicate(entry.update)) this.#entries.delete(id)
  }

  /**
   * Takes up to `max` updates for one outgoing message, counting a transmission
   * for each; updates sent `limit` times leave the queue. Returns copies.
   */
  take (max: number, limit: number, exclude?: ReadonlySet<MemberId>): Update[] {
    if (max <= 0 || this.#entries.size === 0) return []
    const sorted = [...this.#entries.values()]
      .filter(e => exclude == null || !exclude.has(e.update.id))
      .sort((a, b) => a.transmits - b.transmits || b.order - a.order)
    const picked = sorted.slice(0, max)
    const out: Update[] = []
    for (const entry of picked) {
      entry.transmits++
      if (entry.transmits >= limit) this.#entries.delete(entry.update.id)
      out.push(cloneUpdate(entry.update))
    }
    return out
  }
}

export function cloneUpdate (u: Update): Update {
  if (u.type === 'alive') return { ...u, addrs: [...u.addrs], tags: { ...u.tags } }
  return { ...u }
}
