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
  /** When each task was last offered (the coordinator re-offers pending tasks every interval). */
  readonly #offeredAt = new Map<number, number>()

  get size (): number {
    return this.#byIndex.size
  }

  has (index: number): boolean {
    return this.#byIndex.has(index)
  }

  /** Records (or refreshes, after a re-offer) a task this node ranks `rank` for, offered at `now`. */
  set (task: OfferedTask, rank: number, now = 0): void {
    this.delete(task.index)
    this.#byIndex.set(task.index, { task, rank })
    this.#offeredAt.set(task.index, now)
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
    this.#offeredAt.delete(index)
    this.#buckets[entry.rank]?.delete(index)
    return true
  }

  clear (): void {
    this.#byIndex.clear()
    this.#offeredAt.clear()
    this.#buckets.length = 0
  }

  /**
   * Tasks this node may claim now (its rank within the task's round), best
   * rank first. Its own share (rank 0) comes in offer order; other members'
   * shares (rank >= 1, claimable once re-offers widened them) in reverse
   * order: the owner works from the front of its share and a helper steals
   * from the back, so the two rarely claim the same task (a claim the
   * coordinator must deny). Safe to delete while iterating.
   *
   * An entry not re-offered since `staleBefore` is dropped unclaimed: the
   * coordinator re-offers every task still pending each interval, so the
   * task was most likely leased to someone else meanwhile.
   */
  * claimable (staleBefore = -Infinity): Generator<OfferedTask> {
    for (let rank = 0; rank < this.#buckets.length; rank++) {
      const bucket = this.#buckets[rank]
      if (bucket == null || bucket.size === 0) continue
      const tasks = rank === 0 ? bucket.values() : Array.from(bucket.values()).reverse()
      for (const task of tasks) {
        if ((this.#offeredAt.get(task.index) ?? 0) < staleBefore) {
          this.delete(task.index)
          continue
        }
        if (rank <= task.round) yield task
      }
    }
  }
}
