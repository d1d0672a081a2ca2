/**
 * The worker side of work claims, sans-IO: which offered tasks to claim,
 * lease renewal, result reporting (and re-sending after a takeover), and the
 * capacity this node gossips. It never runs a task itself: it emits `run` and
 * `abort` effects and is told the outcome with `taskFinished`.
 */
import type { WorkConfig } from './config.ts'
import { claimWeight, rankOf, taskKey, type Candidate } from './rendezvous.ts'
import { OfferBook } from './offers.ts'
import type { JobKind, MemberId, Peer, TaskOutcome, WorkEffect, WorkMessage } from './types.ts'

export interface WorkerStats {
  claimsSent: number
  tasksStarted: number
  tasksFinished: number
  tasksAborted: number
  resultsResent: number
  /** Grants that arrived with no free slot and were released. */
  grantsReleased: number
}

interface WorkerJob {
  id: string
  coordinator: MemberId
  epoch: number
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
}

/** How many ended job ids are remembered so that late offers do not revive them. */
const ENDED_MEMORY = 1024

export class Worker {
  readonly #self: MemberId
  readonly #config: WorkConfig
  readonly #canRun: (workload: string) => boolean
  readonly #jobs = new Map<string, WorkerJob>()
  readonly #ended = new Set<string>()
  #peers = new Map<MemberId, Peer>()
  /** Free slots other members published. */
  readonly #free = new Map<MemberId, number>()
  #nextRenewAt = -Infinity
  #nextCapacityAt = -Infinity
  #publishedFree = -1
  readonly #stats: WorkerStats = { claimsSent: 0, tasksStarted: 0, tasksFinished: 0, tasksAborted: 0, resultsResent: 0, grantsReleased: 0 }

  constructor (opts: WorkerOptions) {
    this.#self = opts.self
    this.#config = opts.config
    this.#canRun = opts.canRun ?? (() => true)
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

  stats (): WorkerStats {
    return { ...this.#stats }
  }

  receive (now: number, from: MemberId, msg: WorkMessage): WorkEffect[] {
    const effects: WorkEffect[] = []
    switch (msg.type) {
      case 'offer': {
        if (msg.coordinator !== from || this.#ended.has(msg.jobId)) break
        if (msg.kind === 'map' && !this.#canRun(msg.workload)) break
        const job = this.#follow(msg.jobId, from, msg.epoch, msg.workload, msg.kind, effects)
        if (job == null) break
        const candidates = this.#candidates()
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
        if (this.#ended.has(msg.jobId)) break
        const job = this.#follow(msg.jobId, from, msg.epoch, msg.workload, 'map', effects)
        if (job == null || job.coordinator !== from) break
        const release: number[] = []
        for (const task of msg.tasks) {
          if (job.running.has(task.index)) continue
          const reserved = job.claimed.delete(task.index)
          job.offered.delete(task.index)
          if (!reserved && this.free() === 0) {
            release.push(task.index)
            continue
          }
          job.running.add(task.index)
          this.#stats.tasksStarted++
          effects.push({ kind: 'run', jobId: job.id, workload: job.workload, index: task.index, input: task.input })
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
      case 'takeover':
        if (msg.coordinator === from && !this.#ended.has(msg.jobId)) {
          const job = this.#jobs.get(msg.jobId)
          if (job != null) this.#follow(msg.jobId, from, msg.epoch, job.workload, job.kind, effects)
        }
        break
      case 'job-end':
        this.#endJob(msg.job.id, effects)
        this.#claim(now, effects)
        break
      case 'capacity':
        this.#free.set(from, msg.free)
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
    job.unacked.set(index, outcome)
    effects.push({ kind: 'send', to: job.coordinator, msg: resultMsg(job, index, outcome) })
    this.#claim(now, effects)
    return effects
  }

  members (now: number, peers: readonly Peer[]): WorkEffect[] {
    this.#peers = new Map(peers.map(p => [p.id, p]))
    for (const id of this.#free.keys()) if (!this.#alive(id)) this.#free.delete(id)
    const effects: WorkEffect[] = []
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
    if (now >= this.#nextCapacityAt) {
      const free = this.free()
      if (free !== this.#publishedFree) {
        this.#publishedFree = free
        effects.push({ kind: 'publish', msg: { type: 'capacity', free, slots: this.#config.slots } })
      }
      this.#nextCapacityAt = now + this.#config.capacityIntervalMs
    }
    return effects
  }

  nextDeadline (): number {
    let next = this.#nextCapacityAt
    if (this.running() > 0) next = Math.min(next, this.#nextRenewAt)
    for (const job of this.#jobs.values()) {
      for (const at of job.claimed.values()) next = Math.min(next, at + this.#config.claimTimeoutMs)
    }
    return next
  }

  // ---------------------------------------------------------------------------

  /**
   * The job record as the worker knows it. A message at a higher epoch from
   * another member is a takeover: follow the new coordinator, re-send the
   * unacknowledged results and renew the running leases with it at once.
   * Messages at an older epoch are ignored (undefined).
   */
  #follow (id: string, coordinator: MemberId, epoch: number, workload: string, kind: JobKind, effects: WorkEffect[]): WorkerJob | undefined {
    let job = this.#jobs.get(id)
    if (job == null) {
      job = { id, coordinator, epoch, workload, kind, offered: new OfferBook(), claimed: new Map(), running: new Set(), unacked: new Map() }
      this.#jobs.set(id, job)
      return job
    }
    if (epoch < job.epoch) return undefined
    if (epoch > job.epoch) {
      job.coordinator = coordinator
      job.epoch = epoch
      job.offered.clear()
      job.claimed.clear() // claims sent to the old coordinator are void
      for (const [index, outcome] of job.unacked) {
        this.#stats.resultsResent++
        effects.push({ kind: 'send', to: coordinator, msg: resultMsg(job, index, outcome) })
      }
      if (job.running.size > 0) effects.push({ kind: 'send', to: coordinator, msg: { type: 'renew', jobId: id, epoch, tasks: [...job.running] } })
    }
    return job
  }

  #endJob (id: string, effects: WorkEffect[]): void {
    const job = this.#jobs.get(id)
    this.#ended.add(id)
    if (this.#ended.size > ENDED_MEMORY) this.#ended.delete(this.#ended.values().next().value as string)
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
   * arrives. One claim message per job, sent to its coordinator.
   */
  #claim (now: number, effects: WorkEffect[]): void {
    let free = this.free()
    if (free === 0) return
    for (const job of this.#jobs.values()) {
      if (free === 0) break
      const mine: number[] = []
      // two missed re-offers: the task was leased elsewhere (see OfferBook.claimable)
      for (const task of job.offered.claimable(now - 2 * this.#config.offerIntervalMs)) {
        if (free === 0) break
        const index = task.index
        job.offered.delete(index)
        job.claimed.set(index, now)
        mine.push(index)
        free--
      }
      if (mine.length > 0) {
        this.#stats.claimsSent++
        // direct to the coordinator: the only member that acts on a claim
        effects.push({ kind: 'send', to: job.coordinator, msg: { type: 'claim', jobId: job.id, coordinator: job.coordinator, epoch: job.epoch, tasks: mine } })
      }
    }
  }

  /** Alive members weighted by their free slots (ours: exact; others: as last published, else all slots). */
  #candidates (): Candidate[] {
    const out: Candidate[] = [{ id: this.#self, weight: claimWeight(this.free()) }]
    for (const peer of this.#peers.values()) {
      if (peer.id === this.#self || !peer.alive) continue
      out.push({ id: peer.id, weight: claimWeight(this.#free.get(peer.id) ?? this.#config.slots) })
    }
    return out
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
