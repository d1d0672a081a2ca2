/**
 * The tasks a worker has been offered and not yet claimed, bucketed by this
 * node's rank in each task's rendezvous ranking (computed when the offer
 * arrives). Claiming walks the buckets from rank 0 up, so a worker first takes
 * its own share, then the tasks it ranks second for, and so on: when a
 * re-offer has widened the claim set to everyone, workers still prefer
 * different tasks instead of all claiming the same first ones and being denied.
 */
import type { OfferedTask } from './types.ts'

export class OfferBook {
  readonly #byIndex = new Map<number, { task: OfferedTask, rank: number }>()
  readonly #buckets: Array<Map<number, OfferedTask>> = []

  get size (): number {
    return this.#byIndex.size
  }

  has (index: number): boolean {
    return this.#byIndex.has(index)
  }

  /** Records (or refreshes, after a re-offer) a task this node ranks `rank` for. */
  set (task: OfferedTask, rank: number): void {
    this.delete(task.index)
    this.#byIndex.set(task.index, { task, rank })
    let bucket = this.#buckets[rank]
    if (bucket == null) {
      bucket = new Map()
      this.#buckets[rank] = bucket
    }
    bucket.set(task.index, task)
  }

  delete (index: number): boolean {
    const entry = this.#byIndex.get(index)
    if (entry == null) return false
    this.#byIndex.delete(index)
    this.#buckets[entry.rank]?.delete(index)
    return true
  }

  clear (): void {
    this.#byIndex.clear()
    this.#buckets.length = 0
  }

  /** Tasks this node may claim now (its rank within the task's round), best rank first. Safe to delete while iterating. */
  * claimable (): Generator<OfferedTask> {
    for (let rank = 0; rank < this.#buckets.length; rank++) {
      const bucket = this.#buckets[rank]
      if (bucket == null) continue
      for (const task of bucket.values()) {
        if (rank <= task.round) yield task
      }
    }
  }
}
