/**
 * The coordinator and replica side of work claims: a sans-IO job state
 * machine. One instance per node holds every job this node coordinates or
 * replicates. Inputs: `submit`, `receive`, `members`, `tick`, each with the
 * current time; outputs: effects. No clock, timer or socket in here.
 *
 * See workloads/README.md for the rules (claims, leases, takeover, counting).
 */
import type { WorkConfig } from './config.ts'
import { countForged, judge, type ForgedCounts } from './authority.ts'
import { rank, taskKey } from './rendezvous.ts'
import type {
  CountedResult, JobSnapshot, JobStatus, JobView, MemberId, Peer, Random, TaskRecord,
  WorkEffect, WorkMessage, Workload, WorkloadRegistry
} from './types.ts'

/** Submit refused: unknown workload, malformed or oversized input, bad split. Nothing was started. */
export class JobRejectedError extends Error {
  override name = 'JobRejectedError'
}

/** Counters for metrics and tests; monotonically increasing. */
export interface CoordinatorStats {
  jobsSubmitted: number
  jobsTakenOver: number
  claimsGranted: number
  /** Claims for a task leased to another member (normal contention). */
  claimsDenied: number
  /** Claims, renewals, releases and results for tasks the sender did not hold. */
  ignored: number
  /** Results for an already counted task. */
  duplicateResults: number
  leasesExpired: number
  leasesReleasedOnFailure: number
  replicationResyncs: number
  /** Takeovers, replication and job ends from members without that role (authority.ts), by message type. */
  forged: ForgedCounts
}

/** The replicated part (a JobSnapshot) plus what only this node's role needs. */
interface Job extends JobSnapshot {
  role: 'coordinator' | 'replica'
  coordinator: MemberId
  epoch: number
  replicas: MemberId[]
  /** Coordinator only, never replicated (local clock): lease deadlines by task index. */
  leaseExpiresAt: Map<number, number>
  /** Coordinator only: when each pending task was last offered. */
  lastOfferedAt: Map<number, number>
  /**
   * Coordinator only: the pending tasks, in the order they became pending.
   * Offers walk its first offerWindowTasks entries instead of every task.
   */
  pending: Set<number>
  /** Coordinator only: when the next (re-)offer is due. */
  nextOfferAt: number
  /** Coordinator: last seq sent; replica: last seq applied. */
  seq: number
  dirty: Set<number>
  /** Status, result or counters changed since the last replication. */
  headerDirty: boolean
  /** Replica only: a takeover heard before this node's failure detector confirmed the coordinator failed. */
  pendingTakeover?: { from: MemberId, epoch: number }
}

export interface CoordinatorOptions {
  self: MemberId
  config: WorkConfig
  registry: WorkloadRegistry
  random: Random
}

const encoder = new TextEncoder()

function message (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function hex32 (random: Random): string {
  return Math.floor(random() * 2 ** 32).toString(16).padStart(8, '0')
}

export class Coordinator {
  readonly #self: MemberId
  readonly #config: WorkConfig
  readonly #registry: WorkloadRegistry
  readonly #random: Random
  readonly #jobs = new Map<string, Job>()
  #peers = new Map<MemberId, Peer>()
  readonly #stats: CoordinatorStats = {
    jobsSubmitted: 0,
    jobsTakenOver: 0,
    claimsGranted: 0,
    claimsDenied: 0,
    ignored: 0,
    duplicateResults: 0,
    leasesExpired: 0,
    leasesReleasedOnFailure: 0,
    replicationResyncs: 0,
    forged: {}
  }

  constructor (opts: CoordinatorOptions) {
    this.#self = opts.self
    this.#config = opts.config
    this.#registry = opts.registry
    this.#random = opts.random
  }

  /**
   * Validates, splits and starts a job coordinated by this node. Throws
   * JobRejectedError (nothing started) on an unknown workload, malformed or
   * oversized input, or a split that throws or gives too many tasks.
   */
  submit (now: number, workloadName: string, rawInput: unknown): { jobId: string, effects: WorkEffect[] } {
    const workload = this.#registry.get(workloadName)
    if (workload == null) {
      const known = [...this.#registry.keys()].sort().join(', ')
      throw new JobRejectedError(`unknown workload "${workloadName}" (known: ${known})`)
    }
    let json: string | undefined
    try {
      json = JSON.stringify(rawInput ?? null)
    } catch (err) {
      throw new JobRejectedError(`input of ${workloadName} is not JSON: ${message(err)}`)
    }
    const bytes = encoder.encode(json).length
    if (bytes > this.#config.maxInputBytes) {
      throw new JobRejectedError(`input of ${workloadName} is ${bytes} bytes, over the limit of ${this.#config.maxInputBytes}`)
    }
    let input: unknown
    try {
      input = workload.validate(JSON.parse(json))
    } catch (err) {
      throw new JobRejectedError(`invalid input for ${workloadName}: ${message(err)}`)
    }
    const tasks = workload.kind === 'broadcast' ? this.#broadcastTasks(input) : this.#split(workloadName, workload, input)
    const id = `${hex32(this.#random)}${hex32(this.#random)}`
    const job: Job = {
      role: 'coordinator',
      id,
      workload: workloadName,
      kind: workload.kind,
      input,
      coordinator: this.#self,
      epoch: 1,
      replicas: [],
      status: 'running',
      result: null,
      error: null,
      ignored: 0,
      duplicates: 0,
      tasks,
      leaseExpiresAt: new Map(),
      lastOfferedAt: new Map(),
      pending: new Set(tasks.map(t => t.index)),
      nextOfferAt: -Infinity,
      seq: 0,
      dirty: new Set(),
      headerDirty: false
    }
    this.#jobs.set(id, job)
    this.#stats.jobsSubmitted++
    job.replicas = this.#chooseReplicas(job)
    const effects: WorkEffect[] = []
    for (const replica of job.replicas) effects.push(this.#snapshotTo(job, replica))
    this.#maybeComplete(now, job, effects)
    if (job.status === 'running') this.#offer(now, job, effects)
    effects.push({ kind: 'job', job: this.#view(job) })
    return { jobId: id, effects }
  }

  #split (name: string, workload: Workload, input: unknown): TaskRecord[] {
    if (workload.split == null) throw new JobRejectedError(`workload ${name} has no split`)
    let inputs: unknown[]
    try {
      inputs = workload.split(input)
    } catch (err) {
      throw new JobRejectedError(`cannot split input for ${name}: ${message(err)}`)
    }
    if (!Array.isArray(inputs)) throw new JobRejectedError(`split of ${name} did not return an array`)
    if (inputs.length > this.#config.maxTasksPerJob) {
      throw new JobRejectedError(`${name} splits into ${inputs.length} tasks, over the limit of ${this.#config.maxTasksPerJob}`)
    }
    return inputs.map((taskInput, index) => newTask(index, taskInput))
  }

  /** One task per alive member matching `input.tags`, in member-name order. */
  #broadcastTasks (input: unknown): TaskRecord[] {
    const filter = (input != null && typeof input === 'object' && 'tags' in input && input.tags != null && typeof input.tags === 'object')
      ? input.tags as Record<string, unknown>
      : {}
    const targets = [...this.#peers.values()]
      .filter(p => this.#alive(p.id) && Object.entries(filter).every(([k, v]) => p.tags[k] === v))
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : (a.id < b.id ? -1 : 1))
    return targets.map((p, index) => ({ ...newTask(index, input), target: p.id }))
  }

  /** A message from the authenticated peer `from`. */
  receive (now: number, from: MemberId, msg: WorkMessage): WorkEffect[] {
    const effects: WorkEffect[] = []
    switch (msg.type) {
      case 'claim': {
        if (msg.coordinator !== this.#self) break
        const job = this.#coordinated(msg.jobId)
        if (job != null) this.#onClaim(now, job, from, msg.tasks, effects)
        break
      }
      case 'renew': {
        const job = this.#coordinated(msg.jobId)
        if (job != null) this.#onRenew(now, job, from, msg.tasks, effects)
        break
      }
      case 'release': {
        const job = this.#coordinated(msg.jobId)
        if (job == null) break
        for (const index of msg.tasks) {
          const task = job.tasks[index]
          if (task?.state === 'leased' && task.holder === from) {
            task.grants-- // given back unrun: not a re-run when granted again
            this.#makePending(job, task)
          } else {
            this.#ignore(job)
          }
        }
        break
      }
      case 'result': {
        const job = this.#coordinated(msg.jobId)
        if (job != null) this.#onResult(now, job, from, msg, effects)
        break
      }
      case 'replicate':
        this.#onReplicate(now, from, msg, effects)
        break
      case 'resync': {
        const job = this.#coordinated(msg.jobId)
        if (job != null && job.replicas.includes(from)) {
          this.#stats.replicationResyncs++
          effects.push(this.#snapshotTo(job, from))
        }
        break
      }
      case 'takeover': {
        // A replica took over a job we coordinate or replicate: follow it, if it may.
        const job = this.#jobs.get(msg.jobId)
        if (job == null) break
        const verdict = msg.coordinator === from ? this.#judge(job, from, msg.epoch) : 'forged'
        if (verdict === 'accept' && from !== job.coordinator) this.#follow(job, from, msg.epoch)
        else if (verdict === 'wait') job.pendingTakeover = { from, epoch: msg.epoch }
        else if (verdict === 'forged') countForged(this.#stats.forged, msg.type)
        break
      }
      case 'job-end': {
        const job = this.#jobs.get(msg.job.id)
        if (job == null || job.role !== 'replica' || job.status !== 'running') break
        if (from !== job.coordinator || msg.job.coordinator !== from) {
          countForged(this.#stats.forged, msg.type)
          break
        }
        job.status = msg.job.status
        job.result = msg.job.result
        job.error = msg.job.error
        break
      }
      default:
        break
    }
    this.#flushAll(effects)
    return effects
  }

  /**
   * The membership view changed (every member, this node included). Releases
   * the leases of members no longer alive, skips broadcast tasks aimed at
   * them, replaces lost replicas, and takes over jobs whose coordinator died.
   */
  members (now: number, peers: readonly Peer[]): WorkEffect[] {
    this.#peers = new Map(peers.map(p => [p.id, p]))
    const effects: WorkEffect[] = []
    for (const job of this.#jobs.values()) {
      if (job.status !== 'running') continue
      if (job.role === 'replica') {
        if (this.#alive(job.coordinator)) continue
        // the takeover heard earlier is confirmed now
        const pending = job.pendingTakeover
        if (pending != null && pending.epoch > job.epoch) this.#follow(job, pending.from, pending.epoch)
        job.pendingTakeover = undefined
        if (this.#alive(job.coordinator)) continue
        const heir = job.replicas.find(id => this.#alive(id))
        if (heir === this.#self) this.#takeOver(now, job, effects)
        continue
      }
      this.#releaseDead(job)
      const wanted = this.#chooseReplicas(job)
      const added = wanted.filter(id => !job.replicas.includes(id))
      if (added.length > 0 || wanted.length !== job.replicas.length) {
        this.#flush(job, effects) // pending deltas go to the old set first
        job.replicas = wanted
        for (const replica of added) effects.push(this.#snapshotTo(job, replica))
      }
      this.#maybeComplete(now, job, effects)
    }
    this.#flushAll(effects)
    return effects
  }

  /** Expire leases, (re-)offer unowned tasks. Call at or after nextDeadline(). */
  tick (now: number): WorkEffect[] {
    const effects: WorkEffect[] = []
    for (const job of this.#jobs.values()) {
      if (job.role !== 'coordinator' || job.status !== 'running') continue
      for (const [index, at] of job.leaseExpiresAt) {
        if (at <= now) {
          this.#stats.leasesExpired++
          this.#makePending(job, job.tasks[index])
        }
      }
      this.#offer(now, job, effects)
    }
    this.#flushAll(effects)
    return effects
  }

  /** The earliest time tick() has work to do (Infinity: none). */
  nextDeadline (): number {
    let next = Infinity
    for (const job of this.#jobs.values()) {
      if (job.role !== 'coordinator' || job.status !== 'running') continue
      for (const at of job.leaseExpiresAt.values()) next = Math.min(next, at)
      if (job.pending.size > 0) next = Math.min(next, job.nextOfferAt)
    }
    return next
  }

  job (id: string): JobView | undefined {
    const job = this.#jobs.get(id)
    return job == null ? undefined : this.#view(job)
  }

  /** Every job this node coordinates or replicates. */
  jobs (): JobView[] {
    return [...this.#jobs.values()].map(j => this.#view(j))
  }

  /** The job's coordinator as this node knows it (coordinator or replica of it). */
  coordinatorOf (id: string): MemberId | undefined {
    return this.#jobs.get(id)?.coordinator
  }

  /** Whether this node currently coordinates the job. */
  coordinates (id: string): boolean {
    return this.#jobs.get(id)?.role === 'coordinator'
  }

  stats (): CoordinatorStats {
    return { ...this.#stats }
  }

  // --- claims, leases, results -------------------------------------------------

  #onClaim (now: number, job: Job, from: MemberId, indexes: number[], effects: WorkEffect[]): void {
    const granted: Array<{ index: number, input: unknown }> = []
    const denied: number[] = []
    const running = job.status === 'running' && this.#alive(from)
    for (const index of indexes) {
      const task = job.tasks[index]
      if (task == null || (task.target != null && task.target !== from)) {
        this.#ignore(job) // a task that does not exist or is aimed at another member
        denied.push(index)
      } else if (!running || task.state === 'done' || task.state === 'skipped') {
        this.#stats.claimsDenied++ // a stale offer: normal
        denied.push(index)
      } else if (task.state === 'pending') {
        // First claim of an unowned task wins: the coordinator serialises claims.
        task.state = 'leased'
        job.pending.delete(index)
        task.holder = from
        task.grants++
        job.leaseExpiresAt.set(index, now + this.#config.leaseMs)
        job.lastOfferedAt.delete(index)
        job.dirty.add(index)
        this.#stats.claimsGranted++
        granted.push({ index, input: task.input })
      } else if (task.holder === from) {
        granted.push({ index, input: task.input }) // a repeated claim: the grant was lost
      } else {
        this.#stats.claimsDenied++
        denied.push(index)
      }
    }
    // Granted tasks left the offer window: offer the ones sliding in soon, in one batch.
    if (granted.length > 0 && job.pending.size > 0) job.nextOfferAt = Math.min(job.nextOfferAt, now + this.#config.offerSlideDelayMs)
    // Replicate the grants before the worker hears of them (see README: takeover).
    this.#flush(job, effects)
    if (granted.length > 0) effects.push({ kind: 'send', to: from, msg: { type: 'grant', jobId: job.id, epoch: job.epoch, workload: job.workload, tasks: granted } })
    if (denied.length > 0) effects.push({ kind: 'send', to: from, msg: { type: 'deny', jobId: job.id, epoch: job.epoch, tasks: denied } })
  }

  #onRenew (now: number, job: Job, from: MemberId, indexes: number[], effects: WorkEffect[]): void {
    const revoked: number[] = []
    for (const index of indexes) {
      const task = job.tasks[index]
      if (job.status === 'running' && task?.state === 'leased' && task.holder === from) {
        job.leaseExpiresAt.set(index, now + this.#config.leaseMs)
      } else {
        this.#ignore(job)
        revoked.push(index)
      }
    }
    if (revoked.length > 0) effects.push({ kind: 'send', to: from, msg: { type: 'revoke', jobId: job.id, epoch: job.epoch, tasks: revoked } })
  }

  #onResult (now: number, job: Job, from: MemberId, msg: Extract<WorkMessage, { type: 'result' }>, effects: WorkEffect[]): void {
    const task = job.tasks[msg.index]
    const ack = (counted: boolean): void => {
      effects.push({ kind: 'send', to: from, msg: { type: 'result-ack', jobId: job.id, epoch: job.epoch, index: msg.index, counted } })
    }
    if (task == null) {
      this.#ignore(job)
      ack(false)
      return
    }
    if (task.state === 'done' && task.producer === from) {
      // Re-sent after a takeover, or the ack was lost: already counted once.
      job.duplicates++
      job.headerDirty = true
      this.#stats.duplicateResults++
      ack(true)
      return
    }
    if (task.state !== 'leased' || task.holder !== from || job.status !== 'running') {
      this.#ignore(job)
      ack(false)
      return
    }
    job.leaseExpiresAt.delete(task.index)
    job.dirty.add(task.index)
    if (msg.ok) {
      task.state = 'done'
      task.holder = undefined
      task.value = msg.value
      task.producer = from
      task.doneBy = this.#peers.get(from)?.name ?? from
      ack(true)
      this.#maybeComplete(now, job, effects)
      return
    }
    task.errors++
    task.lastError = msg.error ?? 'unknown error'
    ack(false)
    if (task.errors >= this.#config.maxTaskAttempts) {
      task.state = 'pending'
      job.pending.add(task.index)
      task.holder = undefined
      this.#end(job, 'failed', null, `task ${task.index} failed ${task.errors} times: ${task.lastError}`, effects)
    } else {
      this.#makePending(job, task)
    }
  }

  #makePending (job: Job, task: TaskRecord): void {
    task.state = 'pending'
    job.pending.add(task.index)
    task.holder = undefined
    job.leaseExpiresAt.delete(task.index)
    job.lastOfferedAt.delete(task.index)
    job.nextOfferAt = -Infinity // offer it again on the next tick
    job.dirty.add(task.index)
  }

  #ignore (job: Job): void {
    job.ignored++
    job.headerDirty = true
    this.#stats.ignored++
  }

  #releaseDead (job: Job): void {
    for (const task of job.tasks) {
      if (task.target != null && !this.#alive(task.target) && (task.state === 'pending' || task.state === 'leased')) {
        job.leaseExpiresAt.delete(task.index)
        task.state = 'skipped'
        job.pending.delete(task.index)
        task.holder = undefined
        job.dirty.add(task.index)
      } else if (task.state === 'leased' && task.holder != null && !this.#alive(task.holder)) {
        this.#stats.leasesReleasedOnFailure++
        this.#makePending(job, task)
      }
    }
  }

  /**
   * Offers the pending tasks not offered within offerIntervalMs, in batches;
   * each offer widens the claim set. Only the first offerWindowTasks pending
   * tasks are offered: a job of 100,000 tasks does not re-send 100,000 offers
   * every interval while the cluster can only run a few hundred at once.
   */
  #offer (now: number, job: Job, effects: WorkEffect[]): void {
    if (now < job.nextOfferAt) return
    const due: TaskRecord[] = []
    let next = Infinity
    let seen = 0
    for (const index of job.pending) {
      if (seen++ >= this.#config.offerWindowTasks) break
      const last = job.lastOfferedAt.get(index)
      if (last == null || last + this.#config.offerIntervalMs <= now) {
        due.push(job.tasks[index])
        next = Math.min(next, now + this.#config.offerIntervalMs)
      } else {
        next = Math.min(next, last + this.#config.offerIntervalMs)
      }
    }
    // tasks sliding into the window as others are claimed wait for the next round at most
    job.nextOfferAt = job.pending.size > 0 ? Math.min(next, now + this.#config.offerIntervalMs) : Infinity
    for (let i = 0; i < due.length; i += this.#config.offerBatchSize) {
      const batch = due.slice(i, i + this.#config.offerBatchSize).map(task => {
        job.lastOfferedAt.set(task.index, now)
        const offered = { index: task.index, round: task.round, ...(task.target != null ? { target: task.target } : {}) }
        task.round++
        return offered
      })
      effects.push({
        kind: 'publish',
        msg: { type: 'offer', jobId: job.id, coordinator: this.#self, epoch: job.epoch, replicas: job.replicas, workload: job.workload, kind: job.kind, tasks: batch }
      })
    }
  }

  #maybeComplete (now: number, job: Job, effects: WorkEffect[]): void {
    if (job.status !== 'running' || job.role !== 'coordinator') return
    // cheap test first (every result calls this): nothing pending, nothing leased
    if (job.pending.size > 0 || job.leaseExpiresAt.size > 0) return
    if (!job.tasks.every(t => t.state === 'done' || t.state === 'skipped')) return
    const workload = this.#registry.get(job.workload)
    const counted: CountedResult[] = job.tasks
      .filter(t => t.state === 'done')
      .map(t => ({ index: t.index, node: t.doneBy ?? '', value: t.value }))
    try {
      if (workload == null) throw new Error(`workload ${job.workload} is not registered on this node`)
      this.#end(job, 'done', workload.reduce(counted, job.input), null, effects)
    } catch (err) {
      this.#end(job, 'failed', null, `reduce failed: ${message(err)}`, effects)
    }
  }

  #end (job: Job, status: JobStatus, result: unknown, error: string | null, effects: WorkEffect[]): void {
    job.status = status
    job.result = result
    job.error = error
    job.headerDirty = true
    job.leaseExpiresAt.clear()
    job.lastOfferedAt.clear()
    job.pending.clear()
    this.#flush(job, effects)
    const view = this.#view(job)
    effects.push({ kind: 'publish', msg: { type: 'job-end', job: view } })
    effects.push({ kind: 'job', job: view })
  }

  // --- replication and takeover ------------------------------------------------

  /**
   * Replicas: the alive current ones are kept (a member joining later does not
   * move the record); vacancies are filled by rendezvous of the job id over the
   * other alive members.
   */
  #chooseReplicas (job: Job): MemberId[] {
    const kept = job.replicas.filter(id => id !== this.#self && this.#alive(id))
    const candidates = [...this.#peers.values()]
      .filter(p => p.id !== this.#self && this.#alive(p.id) && !kept.includes(p.id))
      .map(p => ({ id: p.id, weight: 1 }))
    return [...kept, ...rank(job.id, candidates)].slice(0, this.#config.replicas)
  }

  #snapshot (job: Job): JobSnapshot {
    return {
      id: job.id,
      workload: job.workload,
      kind: job.kind,
      input: job.input,
      status: job.status,
      result: job.result,
      error: job.error,
      ignored: job.ignored,
      duplicates: job.duplicates,
      tasks: job.tasks.map(t => ({ ...t }))
    }
  }

  /** A delta takes the next seq; a snapshot carries the current one (the next delta follows it). */
  #replicateMsg (job: Job, full: boolean, tasks: TaskRecord[]): WorkMessage {
    if (!full) job.seq++
    return {
      type: 'replicate',
      jobId: job.id,
      coordinator: this.#self,
      epoch: job.epoch,
      seq: job.seq,
      replicas: job.replicas,
      full,
      ...(full ? { snapshot: this.#snapshot(job) } : {}),
      tasks,
      status: job.status,
      result: job.result,
      error: job.error,
      ignored: job.ignored,
      duplicates: job.duplicates
    }
  }

  /** A full snapshot to one replica. Other replicas then see a seq gap and resync, which is rare and harmless. */
  #snapshotTo (job: Job, replica: MemberId): WorkEffect {
    return { kind: 'send', to: replica, msg: this.#replicateMsg(job, true, []) }
  }

  #flush (job: Job, effects: WorkEffect[]): void {
    if (job.role !== 'coordinator' || (job.dirty.size === 0 && !job.headerDirty)) return
    const tasks = [...job.dirty].sort((a, b) => a - b).map(i => ({ ...job.tasks[i] }))
    job.dirty.clear()
    job.headerDirty = false
    if (job.replicas.length === 0) return
    const msg = this.#replicateMsg(job, false, tasks)
    for (const replica of job.replicas) effects.push({ kind: 'send', to: replica, msg })
  }

  #flushAll (effects: WorkEffect[]): void {
    for (const job of this.#jobs.values()) this.#flush(job, effects)
  }

  #onReplicate (now: number, from: MemberId, msg: Extract<WorkMessage, { type: 'replicate' }>, effects: WorkEffect[]): void {
    let job = this.#jobs.get(msg.jobId)
    // A record of a job we know comes from its coordinator, or from a replica that took it over.
    const verdict = msg.coordinator !== from ? 'forged' : job == null ? 'accept' : this.#judge(job, from, msg.epoch)
    if (verdict === 'forged') countForged(this.#stats.forged, msg.type)
    if (verdict !== 'accept') return // 'wait': a resync once the takeover is confirmed brings it back
    if (job != null && (job.role === 'coordinator' ? msg.epoch <= job.epoch : msg.epoch < job.epoch)) return
    if (msg.full && msg.snapshot != null) {
      const s = msg.snapshot
      job = {
        role: 'replica',
        id: s.id,
        workload: s.workload,
        kind: s.kind,
        input: s.input,
        coordinator: from,
        epoch: msg.epoch,
        replicas: msg.replicas,
        status: s.status,
        result: s.result,
        error: s.error,
        ignored: s.ignored,
        duplicates: s.duplicates,
        tasks: s.tasks.map(t => ({ ...t })),
        leaseExpiresAt: new Map(),
        lastOfferedAt: new Map(),
        pending: new Set(),
        nextOfferAt: -Infinity,
        seq: msg.seq,
        dirty: new Set(),
        headerDirty: false
      }
      this.#jobs.set(job.id, job)
      return
    }
    if (job == null || job.role !== 'replica' || msg.seq !== job.seq + 1 || msg.epoch !== job.epoch) {
      effects.push({ kind: 'send', to: from, msg: { type: 'resync', jobId: msg.jobId, epoch: msg.epoch } })
      return
    }
    job.seq = msg.seq
    job.replicas = msg.replicas
    for (const t of msg.tasks) if (job.tasks[t.index] != null) job.tasks[t.index] = { ...t }
    job.status = msg.status
    job.result = msg.result
    job.error = msg.error
    job.ignored = msg.ignored
    job.duplicates = msg.duplicates
    // A replica may learn here that the coordinator is already gone.
    if (!this.#alive(job.coordinator) && job.status === 'running' && job.replicas.find(id => this.#alive(id)) === this.#self) {
      this.#takeOver(now, job, effects)
    }
  }

  /**
   * The coordinator is gone and this node is the first alive replica: it
   * becomes the coordinator at epoch + 1. Leases the replica knew of get a
   * fresh leaseMs (holders renew with us and re-send results); leases of dead
   * members are released; a new replica set gets a snapshot.
   */
  #takeOver (now: number, job: Job, effects: WorkEffect[]): void {
    this.#stats.jobsTakenOver++
    job.role = 'coordinator'
    job.coordinator = this.#self
    job.epoch++
    job.seq = 0
    job.leaseExpiresAt.clear()
    job.lastOfferedAt.clear()
    job.pending = new Set()
    job.nextOfferAt = -Infinity
    for (const task of job.tasks) {
      if (task.state === 'leased') job.leaseExpiresAt.set(task.index, now + this.#config.leaseMs)
      else if (task.state === 'pending') job.pending.add(task.index)
    }
    this.#releaseDead(job)
    job.dirty.clear()
    job.replicas = this.#chooseReplicas(job)
    for (const replica of job.replicas) effects.push(this.#snapshotTo(job, replica))
    effects.push({ kind: 'publish', msg: { type: 'takeover', jobId: job.id, coordinator: this.#self, epoch: job.epoch } })
    this.#maybeComplete(now, job, effects)
    if (job.status === 'running') this.#offer(now, job, effects)
    effects.push({ kind: 'job', job: this.#view(job) })
  }

  // --- helpers -----------------------------------------------------------------

  #judge (job: Job, from: MemberId, epoch: number): ReturnType<typeof judge> {
    return judge(job, from, epoch, { coordinatorAlive: this.#alive(job.coordinator), selfIsCoordinator: job.role === 'coordinator' })
  }

  /** `from` took the job over at `epoch`: this node (replica, or the coordinator stepping down) follows it. */
  #follow (job: Job, from: MemberId, epoch: number): void {
    job.role = 'replica'
    job.coordinator = from
    job.epoch = epoch
    job.pendingTakeover = undefined
    job.leaseExpiresAt.clear()
  }

  #alive (id: MemberId): boolean {
    return id === this.#self || this.#peers.get(id)?.alive === true
  }

  #coordinated (id: string): Job | undefined {
    const job = this.#jobs.get(id)
    return job?.role === 'coordinator' ? job : undefined
  }

  #view (job: Job): JobView {
    const perNode: Record<string, number> = {}
    let done = 0
    let rerun = 0
    for (const task of job.tasks) {
      if (task.grants > 1) rerun++
      if (task.state === 'done') {
        done++
        const name = task.doneBy ?? ''
        perNode[name] = (perNode[name] ?? 0) + 1
      }
    }
    return {
      id: job.id,
      workload: job.workload,
      kind: job.kind,
      status: job.status,
      result: job.result,
      error: job.error,
      stats: { tasks: job.tasks.length, rerun, perNode, done, ignored: job.ignored, duplicates: job.duplicates },
      coordinator: job.coordinator,
      epoch: job.epoch
    }
  }
}

function newTask (index: number, input: unknown): TaskRecord {
  return { index, input, state: 'pending', grants: 0, errors: 0, round: 0 }
}
