/**
 * The tasks a worker has been offered and not yet claimed, bucketed by this
 * node's rank in each task's rendezvous ranking (computed when the offer
 * arrives). Claiming walks the buckets from rank 0 up, so a worker first takes
 * its own share, then the tasks it ranks second for, and so on: when a
 * re-offer has widened the claim set to everyone, workers still prefer
 * different tasks instead of all claiming the same first ones and being denied.
 */
import type { OfferedTask } from './types.ts'

interface Entry { task: OfferedTask, rank: number, offeredAt: number }

export class OfferBook {
  readonly #byIndex = new Map<number, Entry>()
  /** Rank 0, in offer order. */
  readonly #own = new Map<number, Entry>()
  /**
   * Rank >= 1, per rank, in offer order; taken from the end. Deleted entries
   * stay until they reach the end or the array is compacted (an entry is live
   * while #byIndex holds that very object).
   */
  readonly #others: Entry[][] = []

  get size (): number {
    return this.#byIndex.size
  }

  has (index: number): boolean {
    return this.#byIndex.has(index)
  }

  /** Records (or refreshes, after a re-offer) a task this node ranks `rank` for, offered at `now`. */
  set (task: OfferedTask, rank: number, now = 0): void {
    this.delete(task.index)
    const entry = { task, rank, offeredAt: now }
    this.#byIndex.set(task.index, entry)
    if (rank === 0) {
      this.#own.set(task.index, entry)
      return
    }
    const list = this.#others[rank] ?? (this.#others[rank] = [])
    list.push(entry)
    if (list.length > 64 && list.length > 2 * this.#byIndex.size) this.#others[rank] = list.filter(e => this.#live(e))
  }

  delete (index: number): boolean {
    const entry = this.#byIndex.get(index)
    if (entry == null) return false
    this.#byIndex.delete(index)
    if (entry.rank === 0) this.#own.delete(index)
    return true
  }

  clear (): void {
    this.#byIndex.clear()
    this.#own.clear()
    this.#others.length = 0
  }

  /**
   * Tasks this node may claim now (its rank within the task's round), best
   * rank first. Its own share (rank 0) comes in offer order; other members'
   * shares (rank >= 1, claimable once re-offers widened them) from the most
   * recently offered back: the owner works from the front of its share and a
   * helper steals from the back, so the two rarely claim the same task (a
   * claim the coordinator must deny). Safe to delete while iterating.
   *
   * An entry not re-offered since `staleBefore` is dropped unclaimed: the
   * coordinator re-offers every task still pending each interval, so the
   * task was most likely leased to someone else meanwhile.
   */
  * claimable (staleBefore = -Infinity): Generator<OfferedTask> {
    for (const entry of this.#own.values()) {
      if (this.#fresh(entry, staleBefore)) yield entry.task
    }
    for (let rank = 1; rank < this.#others.length; rank++) {
      const list = this.#others[rank]
      if (list == null) continue
      for (let i = list.length - 1; i >= 0; i--) {
        const entry = list[i]
        if (!this.#live(entry) || !this.#fresh(entry, staleBefore)) {
          if (i === list.length - 1) list.pop() // dead at the end: gone for good
          continue
        }
        // Later offers carry higher rounds: if the newest is not ours yet, the older ones
        // almost surely are not either. Stop here rather than scan the whole list each time.
        if (rank > entry.task.round) break
        yield entry.task
      }
    }
  }

  #live (entry: Entry): boolean {
    return this.#byIndex.get(entry.task.index) === entry
  }

  #fresh (entry: Entry, staleBefore: number): boolean {
    if (entry.offeredAt >= staleBefore) return true
    this.delete(entry.task.index)
    return false
  }
}
