/**
 * The worker side of work claims, sans-IO: which offered tasks to claim,
 * lease renewal, result reporting (and re-sending after a takeover), and the
 * capacity this node gossips. It never runs a task itself: it emits `run` and
 * `abort` effects and is told the outcome with `taskFinished`.
 *
 * capacity.ts tracks the free slots members gossip, fair-share.ts spends this
 * node's free slots on offered tasks, offers.ts holds a job's offered tasks.
 */
import type { WorkConfig } from './config.ts'
import { countForged, judge, type ForgedCounts } from './authority.ts'
import { CapacityBook } from './capacity.ts'
import { claimFairly } from './fair-share.ts'
import { MAX_RESULT_BYTES, unsendable } from './limits.ts'
import { rankOf, taskKey } from './rendezvous.ts'
import { OfferBook } from './offers.ts'
import type { JobKind, MemberId, Peer, TaskOutcome, WorkEffect, WorkMessage } from './types.ts'

export interface WorkerStats {
  claimsSent: number
  tasksStarted: number
  tasksFinished: number
  tasksAborted: number
  resultsResent: number
  /** Grants that arrived with no free slot, or for a claim that had timed out, and were released. */
  grantsReleased: number
  /** Granted tasks whose input the workload refused (answered as failed runs, never run). */
  tasksRefused: number
  /** Offers, grants, takeovers and job ends from members without that role (authority.ts), by message type. */
  forged: ForgedCounts
}

interface WorkerJob {
  id: string
  coordinator: MemberId
  epoch: number
  /** Who may take the job over, as its coordinator's last offer said. */
  replicas: MemberId[]
  /** A takeover heard before this node's failure detector confirmed the coordinator failed. */
  pendingTakeover?: { from: MemberId, epoch: number }
  workload: string
  kind: JobKind
  /** Offered and not (yet) claimed by us, by our rank for each. */
  offered: OfferBook
  /** Claims awaiting grant/deny: index → time claimed (each reserves a slot). */
  claimed: Map<number, number>
  running: Set<number>
  /** Results sent and not acknowledged: re-sent to a new coordinator. */
  unacked: Map<number, TaskOutcome>
}

export interface WorkerOptions {
  self: MemberId
  config: WorkConfig
  /**
   * Whether this node has the workload. Map tasks of a workload it lacks are
   * never claimed (they widen to other members); broadcast tasks aimed at it
   * are, so that its answer says it lacks it. Default: every workload.
   */
  canRun?: (workload: string) => boolean
  /**
   * Checks a granted task's input against its workload's limits (Workload.validateTask);
   * throws to refuse it. Default: every input is run.
   */
  validateTask?: (workload: string, input: unknown) => unknown
}

/** How many ended job ids are remembered so that late offers do not revive them. */
const ENDED_MEMORY = 1024

export class Worker {
  readonly #self: MemberId
  readonly #config: WorkConfig
  readonly #canRun: (workload: string) => boolean
  readonly #validateTask: (workload: string, input: unknown) => unknown
  readonly #jobs = new Map<string, WorkerJob>()
  /** Ended job ids and the coordinator that ended each. */
  readonly #ended = new Map<string, MemberId>()
  #peers = new Map<MemberId, Peer>()
  readonly #capacity: CapacityBook
  #nextRenewAt = -Infinity
  readonly #stats: WorkerStats = { claimsSent: 0, tasksStarted: 0, tasksFinished: 0, tasksAborted: 0, resultsResent: 0, grantsReleased: 0, tasksRefused: 0, forged: {} }

  constructor (opts: WorkerOptions) {
    this.#self = opts.self
    this.#config = opts.config
    this.#canRun = opts.canRun ?? (() => true)
    this.#validateTask = opts.validateTask ?? ((_, input) => input)
    this.#capacity = new CapacityBook(opts.config)
  }

  /** Slots not running a task nor reserved by an outstanding claim. */
  free (): number {
    let used = 0
    for (const job of this.#jobs.values()) used += job.running.size + job.claimed.size
    return Math.max(0, this.#config.slots - used)
  }

  running (): number {
    let n = 0
    for (const job of this.#jobs.values()) n += job.running.size
    return n
  }

  /** The coordinator of a job this node works on or saw end. */
  coordinatorOf (id: string): MemberId | undefined {
    return this.#jobs.get(id)?.coordinator ?? this.#ended.get(id)
  }

  stats (): WorkerStats {
    return { ...this.#stats, forged: { ...this.#stats.forged } }
  }

  receive (now: number, from: MemberId, msg: WorkMessage): WorkEffect[] {
    const effects: WorkEffect[] = []
    switch (msg.type) {
      case 'offer': {
        if (msg.coordinator !== from) { countForged(this.#stats.forged, msg.type); break }
        if (this.#ended.get(msg.jobId) === from) break
        if (msg.kind === 'map' && !this.#canRun(msg.workload)) break
        const job = this.#follow(msg.jobId, from, msg.epoch, msg.workload, msg.kind, msg.type, effects)
        if (job == null) break
        job.replicas = msg.replicas
        const candidates = this.#capacity.candidates(this.#self, this.free(), this.#peers.values())
        for (const task of msg.tasks) {
          if (job.running.has(task.index) || job.claimed.has(task.index) || job.unacked.has(task.index)) continue
          if (task.target != null) {
            // broadcast: only the target may claim it, at any round
            if (task.target === this.#self) job.offered.set(task, 0, now)
            continue
          }
          job.offered.set(task, rankOf(taskKey(job.id, task.index), candidates, this.#self), now)
        }
        this.#claim(now, effects)
        break
      }
      case 'grant': {
        // Only for tasks this node claimed from the job's coordinator: a grant
        // from anyone else, or for a job never offered to us, is not run.
        if (this.#ended.get(msg.jobId) === from) break // crossed the job's end
        const job = this.#jobs.get(msg.jobId)
        if (job == null || job.coordinator !== from || msg.epoch !== job.epoch || msg.workload !== job.workload) {
          countForged(this.#stats.forged, msg.type)
          break
        }
        const release: number[] = []
        for (const task of msg.tasks) {
          if (job.running.has(task.index)) continue
          // a claim that timed out before its grant came: give the task back
          if (!job.claimed.delete(task.index)) {
            release.push(task.index)
            continue
          }
          job.offered.delete(task.index)
          let input: unknown
          try {
            input = this.#validateTask(job.workload, task.input)
          } catch (err) {
            this.#stats.tasksRefused++
            const outcome: TaskOutcome = { ok: false, error: `task input refused: ${err instanceof Error ? err.message : String(err)}` }
            job.unacked.set(task.index, outcome)
            effects.push({ kind: 'send', to: from, msg: resultMsg(job, task.index, outcome) })
            continue
          }
          job.running.add(task.index)
          this.#stats.tasksStarted++
          effects.push({ kind: 'run', jobId: job.id, workload: job.workload, index: task.index, input })
        }
        if (release.length > 0) {
          this.#stats.grantsReleased += release.length
          effects.push({ kind: 'send', to: from, msg: { type: 'release', jobId: job.id, epoch: job.epoch, tasks: release } })
        }
        break
      }
      case 'deny': {
        const job = this.#jobs.get(msg.jobId)
        if (job == null || job.coordinator !== from) break
        for (const index of msg.tasks) {
          job.claimed.delete(index)
          job.offered.delete(index)
        }
        this.#claim(now, effects)
        break
      }
      case 'revoke': {
        const job = this.#jobs.get(msg.jobId)
        if (job == null || job.coordinator !== from) break
        for (const index of msg.tasks) {
          if (job.running.delete(index)) {
            this.#stats.tasksAborted++
            effects.push({ kind: 'abort', jobId: job.id, index })
          }
        }
        this.#claim(now, effects)
        break
      }
      case 'result-ack': {
        const job = this.#jobs.get(msg.jobId)
        if (job != null && job.coordinator === from) job.unacked.delete(msg.index)
        break
      }
      case 'takeover': {
        const job = this.#jobs.get(msg.jobId)
        if (msg.coordinator !== from) {
          // A coordinator passing on a takeover (it stepped down, replica.ts follow): the one this
          // worker follows is believed; one this worker followed before, or the taker's own, is old news.
          // A job this worker does not know is none of its business (as for a replica).
          if (job == null) break
          if (job.coordinator === from && msg.epoch > job.epoch) this.#switchTo(job, msg.coordinator, msg.epoch, effects)
          else if (job.coordinator !== from && !(job.coordinator === msg.coordinator && msg.epoch <= job.epoch)) countForged(this.#stats.forged, msg.type)
          break
        }
        if (job != null) this.#follow(msg.jobId, from, msg.epoch, job.workload, job.kind, msg.type, effects)
        break
      }
      case 'job-end': {
        // from the coordinator of the job as we know it (or, for a job we never
        // heard of, from the coordinator it names)
        const job = this.#jobs.get(msg.job.id)
        if (from !== (job?.coordinator ?? msg.job.coordinator)) { countForged(this.#stats.forged, msg.type); break }
        this.#endJob(msg.job.id, from, effects)
        this.#claim(now, effects)
        break
      }
      case 'capacity':
        this.#capacity.heard(from, msg.free)
        break
      default:
        break
    }
    return effects
  }

  /** A run (started by a `run` effect) finished. Ignored if it was aborted meanwhile. */
  taskFinished (now: number, jobId: string, index: number, outcome: TaskOutcome): WorkEffect[] {
    const effects: WorkEffect[] = []
    const job = this.#jobs.get(jobId)
    if (job == null || !job.running.delete(index)) return effects
    this.#stats.tasksFinished++
    // a result that cannot travel is a failed run, not a message dropped on the way
    const why = outcome.ok ? unsendable(outcome.value, 'the result', MAX_RESULT_BYTES) : undefined
    if (why != null) outcome = { ok: false, error: why }
    job.unacked.set(index, outcome)
    effects.push({ kind: 'send', to: job.coordinator, msg: resultMsg(job, index, outcome) })
    this.#claim(now, effects)
    return effects
  }

  members (now: number, peers: readonly Peer[]): WorkEffect[] {
    this.#peers = new Map(peers.map(p => [p.id, p]))
    this.#capacity.forget(id => this.#alive(id))
    const effects: WorkEffect[] = []
    for (const job of this.#jobs.values()) {
      // a takeover heard earlier is confirmed once the coordinator is failed here too
      const pending = job.pendingTakeover
      if (pending != null && !this.#alive(job.coordinator)) this.#follow(job.id, pending.from, pending.epoch, job.workload, job.kind, 'takeover', effects)
    }
    this.#claim(now, effects) // the claim set may have changed
    return effects
  }

  /** Renew leases, expire unanswered claims, publish capacity. Call at or after nextDeadline(). */
  tick (now: number): WorkEffect[] {
    const effects: WorkEffect[] = []
    let expired = false
    for (const job of this.#jobs.values()) {
      for (const [index, at] of job.claimed) {
        if (at + this.#config.claimTimeoutMs <= now) {
          job.claimed.delete(index)
          expired = true
        }
      }
    }
    if (now >= this.#nextRenewAt) {
      this.#nextRenewAt = now + this.#config.leaseRenewMs
      for (const job of this.#jobs.values()) {
        if (job.running.size > 0) effects.push({ kind: 'send', to: job.coordinator, msg: { type: 'renew', jobId: job.id, epoch: job.epoch, tasks: [...job.running] } })
      }
    }
    if (expired) this.#claim(now, effects)
    const capacity = this.#capacity.publish(now, () => this.free())
    if (capacity != null) effects.push({ kind: 'publish', msg: capacity })
    return effects
  }

  nextDeadline (): number {
    let next = this.#capacity.dueAt(this.free())
    if (this.running() > 0) next = Math.min(next, this.#nextRenewAt)
    for (const job of this.#jobs.values()) {
      for (const at of job.claimed.values()) next = Math.min(next, at + this.#config.claimTimeoutMs)
    }
    return next
  }

  // ---------------------------------------------------------------------------

  /**
   * The job record as the worker knows it, for a message from `coordinator`
   * at `epoch`. A message at a higher epoch from one of the job's replicas is
   * a takeover (authority.ts): follow the new coordinator, re-send the
   * unacknowledged results and renew the running leases with it at once.
   * Anything else not from the coordinator is refused (undefined).
   */
  #follow (id: string, coordinator: MemberId, epoch: number, workload: string, kind: JobKind, type: WorkMessage['type'], effects: WorkEffect[]): WorkerJob | undefined {
    let job = this.#jobs.get(id)
    if (job == null) {
      job = { id, coordinator, epoch, replicas: [], workload, kind, offered: new OfferBook(), claimed: new Map(), running: new Set(), unacked: new Map() }
      this.#jobs.set(id, job)
      return job
    }
    const verdict = judge(job, coordinator, epoch, {
      coordinatorAlive: this.#alive(job.coordinator),
      selfIsCoordinator: false,
      knownReplicaAlive: job.replicas.some(id => this.#alive(id))
    })
    if (verdict === 'forged') countForged(this.#stats.forged, type)
    if (verdict === 'wait') job.pendingTakeover = { from: coordinator, epoch }
    if (verdict !== 'accept') return undefined
    if (epoch > job.epoch) this.#switchTo(job, coordinator, epoch, effects)
    return job
  }

  /** Follows `coordinator` at `epoch` from now: re-sends the unacknowledged results and renews the running leases with it at once. */
  #switchTo (job: WorkerJob, coordinator: MemberId, epoch: number, effects: WorkEffect[]): void {
    job.pendingTakeover = undefined
    job.coordinator = coordinator
    job.epoch = epoch
    job.offered.clear()
    job.claimed.clear() // claims sent to the old coordinator are void
    for (const [index, outcome] of job.unacked) {
      this.#stats.resultsResent++
      effects.push({ kind: 'send', to: coordinator, msg: resultMsg(job, index, outcome) })
    }
    if (job.running.size > 0) effects.push({ kind: 'send', to: coordinator, msg: { type: 'renew', jobId: job.id, epoch, tasks: [...job.running] } })
  }

  #endJob (id: string, coordinator: MemberId, effects: WorkEffect[]): void {
    const job = this.#jobs.get(id)
    this.#ended.set(id, coordinator)
    if (this.#ended.size > ENDED_MEMORY) this.#ended.delete(this.#ended.keys().next().value as string)
    if (job == null) return
    for (const index of job.running) {
      this.#stats.tasksAborted++
      effects.push({ kind: 'abort', jobId: id, index })
    }
    this.#jobs.delete(id)
  }

  /**
   * Claims offered tasks that fall in this node's share, up to its free slots:
   * a task is ours to claim if we rank within the first `round + 1` members
   * of its weighted rendezvous ranking (broadcast: if we are its target),
   * best rank first (see offers.ts). Our rank is taken when the offer
   * arrives. One claim message per job, sent to its coordinator. Slots are
   * shared fairly between jobs (fair-share.ts).
   */
  #claim (now: number, effects: WorkEffect[]): void {
    const free = this.free()
    if (free === 0) return
    // two missed re-offers: the task was leased elsewhere (see OfferBook.claimable)
    const staleBefore = now - 2 * this.#config.offerIntervalMs
    claimFairly(this.#jobs.values(), free, now, staleBefore, (job, tasks) => { this.#sendClaim(job, tasks, effects) })
  }

  #sendClaim (job: WorkerJob, tasks: number[], effects: WorkEffect[]): void {
    if (tasks.length === 0) return
    this.#stats.claimsSent++
    // direct to the coordinator: the only member that acts on a claim
    effects.push({ kind: 'send', to: job.coordinator, msg: { type: 'claim', jobId: job.id, coordinator: job.coordinator, epoch: job.epoch, tasks } })
  }

  #alive (id: MemberId): boolean {
    return id === this.#self || this.#peers.get(id)?.alive === true
  }
}

function resultMsg (job: WorkerJob, index: number, outcome: TaskOutcome): WorkMessage {
  return outcome.ok
    ? { type: 'result', jobId: job.id, epoch: job.epoch, index, ok: true, value: outcome.value }
    : { type: 'result', jobId: job.id, epoch: job.epoch, index, ok: false, error: outcome.error }
}
