/**
 * How a worker spends its free slots on the tasks it was offered: fairly
 * between jobs, best-ranked tasks of each job first (offers.ts). Pure over
 * the worker's job records (worker.ts); the worker sends the claims.
 */
import type { OfferBook } from './offers.ts'

/** What fair claiming reads and changes of one job the worker knows. */
export interface ClaimShare {
  /** Offered and not (yet) claimed by us, by our rank for each. */
  readonly offered: OfferBook
  /** Claims awaiting grant/deny: index → time claimed (each reserves a slot). */
  readonly claimed: Map<number, number>
  readonly running: ReadonlySet<number>
}

/**
 * Takes up to `free` claimable offered tasks, moving each from `offered` to
 * `claimed` at `now`, and calls `send` once per job with the tasks taken for
 * it (possibly none), in the order the jobs' shares run out.
 *
 * Slots are shared fairly between jobs: each free slot goes to the job
 * this node holds the fewest tasks of, so a job with endless tasks cannot
 * keep a later job from every slot; as its tasks end, the slots pass on.
 * Offers last seen before `staleBefore` are not claimed (OfferBook.claimable).
 */
export function claimFairly<J extends ClaimShare> (jobs: Iterable<J>, free: number, now: number, staleBefore: number, send: (job: J, tasks: number[]) => void): void {
  const shares = [...jobs].map(job => ({
    job, held: job.running.size + job.claimed.size, offered: job.offered.claimable(staleBefore), mine: [] as number[]
  }))
  while (free > 0 && shares.length > 0) {
    let next = 0
    for (let i = 1; i < shares.length; i++) if (shares[i].held < shares[next].held) next = i
    const share = shares[next]
    const task = share.offered.next()
    if (task.done === true) {
      shares.splice(next, 1)
      send(share.job, share.mine)
      continue
    }
    share.job.offered.delete(task.value.index)
    share.job.claimed.set(task.value.index, now)
    share.mine.push(task.value.index)
    share.held++
    free--
  }
  for (const share of shares) send(share.job, share.mine)
}
