/**
 * Job lookups from any node. A job is known to its coordinator and replicas
 * while it runs, and to every node once it ends (the coordinator publishes
 * `job-end`, which each node keeps in a bounded cache). A node that knows
 * nothing of an id asks every alive member (`job-query`) and takes the
 * freshest answer.
 */
import type { JobView, WorkNode } from '../workloads/index.ts'
import type { LookupMessage, WorkTransport } from '../gossip/index.ts'

/** Ended jobs remembered for lookups (`agent job ID` on any node), by count and by their size as JSON. */
const ENDED_CACHE = 1024
const ENDED_CACHE_BYTES = 16 * 1024 * 1024
/** How long a lookup waits for other members' answers. */
export const LOOKUP_TIMEOUT_MS = 1500

export interface JobLookupOptions {
  /** The work core: the jobs this node coordinates or replicates, and who coordinates a job. */
  core: Pick<WorkNode, 'self' | 'job' | 'jobs' | 'coordinatorOf'>
  transport: Pick<WorkTransport, 'send'>
  /** True once the agent stopped: no more questions go out. */
  stopped: () => boolean
}

export class JobLookup {
  readonly #core: JobLookupOptions['core']
  readonly #transport: JobLookupOptions['transport']
  readonly #stopped: () => boolean
  readonly #ended = new Map<string, { view: JobView, bytes: number }>()
  #endedBytes = 0
  readonly #lookups = new Map<number, (from: string, jobs: JobView[]) => void>()
  readonly #lookupStats = { endsRejected: 0, answersFromOthers: 0 }
  /** Callers waiting for a job's end to reach this node (see WorkDriver.cancel). */
  readonly #endWaiters = new Map<string, Array<(view: JobView) => void>>()
  /** The other members a lookup asks. */
  #alive: string[] = []
  #nextQid = 1

  constructor (opts: JobLookupOptions) {
    this.#core = opts.core
    this.#transport = opts.transport
    this.#stopped = opts.stopped
  }

  /** The alive (and suspect) members besides this node changed. */
  setAlive (ids: string[]): void {
    this.#alive = ids
  }

  /** A job this node knows locally (coordinated, replicated or ended anywhere). */
  local (id: string): JobView | undefined {
    // the coordinator's final record first: a replica's own may be behind it
    return this.#ended.get(id)?.view ?? this.#core.job(id)
  }

  /** A job by id from any node: locally, else asks every alive member. */
  async job (id: string): Promise<JobView | undefined> {
    const local = this.local(id)
    // an ended record is final; a running job coordinated here is as fresh as it gets
    if (local != null && (local.status !== 'running' || local.coordinator === this.#core.self)) return local
    const remote = await this.#ask({ jobId: id })
    return freshest([...(local != null ? [local] : []), ...remote.filter(j => j.id === id)])
  }

  /** Every job this node or any alive member knows, freshest record of each. */
  async jobs (): Promise<JobView[]> {
    const all = [...this.#core.jobs(), ...this.#endedViews(), ...await this.#ask({})]
    const byId = new Map<string, JobView[]>()
    for (const j of all) byId.set(j.id, [...(byId.get(j.id) ?? []), j])
    return [...byId.values()].map(views => freshest(views) as JobView)
  }

  /** A member asked which jobs this node holds: one, or all it knows. */
  query (from: string, msg: Extract<LookupMessage, { type: 'job-query' }>): void {
    const jobs = msg.jobId != null
      ? [this.local(msg.jobId)].filter(j => j != null)
      : [...this.#core.jobs(), ...this.#endedViews()]
    this.#transport.send(from, { type: 'job-info', qid: msg.qid, jobs })
  }

  /** A member answered one of this node's questions. */
  info (from: string, msg: Extract<LookupMessage, { type: 'job-info' }>): void {
    this.#lookups.get(msg.qid)?.(from, msg.jobs)
  }

  /** A `job-end` arrived on the topic: remembered if its sender may end the job. */
  jobEnd (from: string, job: JobView): void {
    // Only the job's coordinator ends it: the one this node knows, or for a
    // job it never heard of, the one the record names (workloads/authority.ts).
    const coordinator = this.#core.coordinatorOf(job.id) ?? job.coordinator
    if (from === coordinator && job.coordinator === from) this.remember(job)
    else this.#lookupStats.endsRejected++
  }

  /** The job's end as it reaches this node, or undefined after LOOKUP_TIMEOUT_MS. */
  async endOf (id: string): Promise<JobView | undefined> {
    return await new Promise(resolve => {
      const timer = setTimeout(() => { done(undefined) }, LOOKUP_TIMEOUT_MS)
      const done = (view: JobView | undefined): void => {
        clearTimeout(timer)
        const waiters = (this.#endWaiters.get(id) ?? []).filter(w => w !== done)
        if (waiters.length > 0) this.#endWaiters.set(id, waiters)
        else this.#endWaiters.delete(id)
        resolve(view)
      }
      this.#endWaiters.set(id, [...(this.#endWaiters.get(id) ?? []), done])
    })
  }

  /** An ended job: kept in the bounded cache, and told to whoever waits for its end. */
  remember (view: JobView): void {
    this.#forget(view.id)
    const bytes = JSON.stringify(view).length
    this.#ended.set(view.id, { view, bytes })
    this.#endedBytes += bytes
    while (this.#ended.size > ENDED_CACHE || (this.#endedBytes > ENDED_CACHE_BYTES && this.#ended.size > 1)) {
      this.#forget(this.#ended.keys().next().value as string)
    }
    for (const waiter of this.#endWaiters.get(view.id) ?? []) waiter(view)
  }

  /** The agent stops: pending questions stop waiting for this answer. */
  stop (): void {
    for (const answer of this.#lookups.values()) answer('', [])
  }

  stats (): { endsRejected: number, answersFromOthers: number } {
    return { ...this.#lookupStats }
  }

  /**
   * Asks every alive member; resolves with the answers within LOOKUP_TIMEOUT_MS.
   * Any member may answer about any job, so for each job only the records its
   * coordinator sent are kept when it answered; the others' (replicas, nodes
   * that cached the end) count only when it did not (it failed, or left).
   */
  async #ask (query: { jobId?: string }): Promise<JobView[]> {
    const targets = this.#alive
    if (targets.length === 0 || this.#stopped()) return []
    const qid = this.#nextQid++
    const answers: Array<{ from: string, job: JobView }> = []
    let pending = targets.length
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, LOOKUP_TIMEOUT_MS)
      this.#lookups.set(qid, (from, jobs) => {
        for (const job of jobs) answers.push({ from, job })
        if (--pending <= 0) { clearTimeout(timer); resolve() }
      })
      for (const to of targets) this.#transport.send(to, { type: 'job-query', qid, ...query })
    })
    this.#lookups.delete(qid)
    const fromCoordinator = new Set(answers.filter(a => a.from === a.job.coordinator).map(a => a.job.id))
    const kept = answers.filter(a => a.from === a.job.coordinator || !fromCoordinator.has(a.job.id))
    this.#lookupStats.answersFromOthers += kept.filter(a => a.from !== a.job.coordinator).length
    return kept.map(a => a.job)
  }

  #forget (id: string): void {
    const entry = this.#ended.get(id)
    if (entry == null) return
    this.#ended.delete(id)
    this.#endedBytes -= entry.bytes
  }

  #endedViews (): JobView[] {
    return [...this.#ended.values()].map(e => e.view)
  }
}

/** The most advanced record of one job: ended beats running, then the higher epoch, then more tasks done. */
function freshest (views: JobView[]): JobView | undefined {
  let best: JobView | undefined
  for (const v of views) {
    if (best == null) { best = v; continue }
    const rank = (j: JobView): number[] => [j.status === 'running' ? 0 : 1, j.epoch, j.stats.done]
    const [a, b] = [rank(v), rank(best)]
    const i = a.findIndex((x, k) => x !== b[k])
    if (i >= 0 && a[i] > b[i]) best = v
  }
  return best
}
