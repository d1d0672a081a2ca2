/**
 * The coordinator and replica side of work claims: a sans-IO state machine
 * holding every job this node coordinates or replicates. Inputs: `submit`,
 * `receive`, `members`, `cancel`, `tick`, each with the current time;
 * outputs: effects. No clock, timer or socket in here.
 *
 * This file routes and replicates: admission.ts checks a submission,
 * leases.ts runs the coordinator role of a job, snapshot.ts packs whole
 * records for replicas, authority.ts says who may speak for a job. See
 * workloads/README.md for the rules.
 */
import { admit, JobRejectedError } from './admission.ts'
import { countForged, judge, type Verdict } from './authority.ts'
import type { WorkConfig } from './config.ts'
import { newJob, viewOf, type CoordinatorStats, type Job } from './job.ts'
import * as leases from './leases.ts'
import { rank } from './rendezvous.ts'
import { applyPart, snapshotPart, startReplica, type SnapshotMessage } from './snapshot.ts'
import type { JobOptions, JobView, MemberId, Peer, Random, WorkEffect, WorkMessage, WorkloadRegistry } from './types.ts'

export { JobRejectedError }
export type { CoordinatorStats }

export interface CoordinatorOptions {
  self: MemberId
  config: WorkConfig
  registry: WorkloadRegistry
  random: Random
}

/** Jobs whose last snapshot request is remembered before old entries are pruned. */
const RESYNC_MEMORY = 1024

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
  /** When this node last asked for a snapshot of each job (#askResync). */
  readonly #resyncAskedAt = new Map<string, number>()
  readonly #stats: CoordinatorStats = {
    jobsSubmitted: 0,
    jobsTakenOver: 0,
    jobsCancelled: 0,
    claimsGranted: 0,
    claimsDenied: 0,
    ignored: 0,
    duplicateResults: 0,
    leasesExpired: 0,
    leasesReleasedOnFailure: 0,
    replicationResyncs: 0,
    snapshotParts: 0,
    forged: {}
  }

  readonly #ctx: leases.LeaseContext

  constructor (opts: CoordinatorOptions) {
    this.#self = opts.self
    this.#config = opts.config
    this.#registry = opts.registry
    this.#random = opts.random
    this.#ctx = {
      config: opts.config,
      registry: opts.registry,
      stats: this.#stats,
      alive: (id) => this.#alive(id),
      nameOf: (id) => this.#peers.get(id)?.name ?? id,
      flush: (job, effects) => { this.#flush(job, effects) }
    }
  }

  /**
   * Validates, splits and starts a job coordinated by this node. Throws
   * JobRejectedError (nothing started) on an unknown workload, malformed or
   * oversized input, a split that throws or gives too many tasks, or a bad deadline.
   */
  submit (now: number, workloadName: string, rawInput: unknown, options: JobOptions = {}): { jobId: string, effects: WorkEffect[] } {
    const alive = [...this.#peers.values()].filter(p => this.#alive(p.id))
    const admitted = admit(this.#registry, this.#config, workloadName, rawInput, options, alive)
    const job = newJob({
      role: 'coordinator',
      id: `${hex32(this.#random)}${hex32(this.#random)}`,
      workload: workloadName,
      kind: admitted.kind,
      input: admitted.input,
      coordinator: this.#self,
      epoch: 1,
      replicas: [],
      tasks: admitted.tasks,
      deadlineMs: admitted.deadlineMs,
      deadlineAt: admitted.deadlineMs != null ? now + admitted.deadlineMs : Infinity
    })
    job.pending = new Set(job.tasks.map(t => t.index))
    this.#jobs.set(job.id, job)
    this.#stats.jobsSubmitted++
    job.replicas = this.#chooseReplicas(job)
    const effects: WorkEffect[] = []
    for (const replica of job.replicas) this.#snapshotTo(now, job, replica, effects)
    leases.maybeComplete(this.#ctx, now, job, effects)
    if (job.status === 'running') leases.offer(this.#ctx, now, job, effects)
    effects.push({ kind: 'job', job: viewOf(job) })
    return { jobId: job.id, effects }
  }

  /** A message from the authenticated peer `from`. */
  receive (now: number, from: MemberId, msg: WorkMessage): WorkEffect[] {
    const effects: WorkEffect[] = []
    switch (msg.type) {
      case 'claim': {
        const job = msg.coordinator === this.#self ? this.#coordinated(msg.jobId) : undefined
        if (job != null) leases.onClaim(this.#ctx, now, job, from, msg.tasks, effects)
        break
      }
      case 'renew': {
        const job = this.#coordinated(msg.jobId)
        if (job != null) leases.onRenew(this.#ctx, now, job, from, msg.tasks, effects)
        break
      }
      case 'release': {
        const job = this.#coordinated(msg.jobId)
        if (job != null) leases.onRelease(this.#ctx, job, from, msg.tasks)
        break
      }
      case 'result': {
        const job = this.#coordinated(msg.jobId)
        if (job != null) leases.onResult(this.#ctx, now, job, from, msg, effects)
        break
      }
      case 'cancel': {
        // Any member may ask: cancelling is an operator's action on whichever agent they reach.
        const job = this.#coordinated(msg.jobId)
        if (job?.status === 'running') this.#cancel(job, `cancelled from ${this.#ctx.nameOf(from)}`, effects)
        break
      }
      case 'snapshot':
        this.#onSnapshot(now, from, msg, effects)
        break
      case 'replicate':
        this.#onReplicate(now, from, msg, effects)
        break
      case 'resync': {
        const job = this.#coordinated(msg.jobId)
        if (job != null && job.replicas.includes(from)) {
          this.#stats.replicationResyncs++
          job.snapshotWanted.add(from)
          this.#sendWantedSnapshots(now, job, effects)
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
        // A delta may have carried the end already (status copied, its tasks maybe behind:
        // deltas lost to a rate limit, a snapshot still arriving in parts): the job-end's
        // view is still taken, so that this replica reports the job as it ended.
        if (job == null || job.role !== 'replica' || job.ended != null) break
        if (from !== job.coordinator || msg.job.coordinator !== from) {
          countForged(this.#stats.forged, msg.type)
          break
        }
        job.status = msg.job.status
        job.result = msg.job.result
        job.error = msg.job.error
        job.ended = msg.job
        break
      }
      default:
        break
    }
    this.#flushAll(effects)
    return effects
  }

  /** Stops a job this node coordinates; undefined if it does not coordinate it or it already ended. */
  cancel (now: number, id: string): WorkEffect[] | undefined {
    const job = this.#coordinated(id)
    if (job?.status !== 'running') return undefined
    const effects: WorkEffect[] = []
    this.#cancel(job, 'cancelled', effects)
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
      leases.releaseDead(this.#ctx, job)
      const wanted = this.#chooseReplicas(job)
      const added = wanted.filter(id => !job.replicas.includes(id))
      if (added.length > 0 || wanted.length !== job.replicas.length) {
        this.#flush(job, effects) // pending deltas go to the old set first
        job.replicas = wanted
        for (const replica of added) this.#snapshotTo(now, job, replica, effects)
      }
      leases.maybeComplete(this.#ctx, now, job, effects)
    }
    this.#flushAll(effects)
    return effects
  }

  /** Expire leases and deadlines, (re-)offer unowned tasks, send deferred snapshots. Call at or after nextDeadline(). */
  tick (now: number): WorkEffect[] {
    const effects: WorkEffect[] = []
    for (const job of this.#jobs.values()) {
      if (job.role !== 'coordinator' || job.status !== 'running') continue
      if (job.deadlineAt <= now) {
        leases.end(this.#ctx, job, 'failed', null, `deadline of ${job.deadlineMs ?? 0} ms passed`, effects)
        continue
      }
      leases.expireLeases(this.#ctx, now, job)
      leases.offer(this.#ctx, now, job, effects)
      this.#sendWantedSnapshots(now, job, effects)
      this.#continueSnapshots(now, job, effects)
    }
    this.#flushAll(effects)
    return effects
  }

  /** The earliest time tick() has work to do (Infinity: none). */
  nextDeadline (): number {
    let next = Infinity
    for (const job of this.#jobs.values()) {
      if (job.role !== 'coordinator' || job.status !== 'running') continue
      next = Math.min(next, job.deadlineAt)
      for (const at of job.leaseExpiresAt.values()) next = Math.min(next, at)
      if (job.pending.size > 0) next = Math.min(next, job.nextOfferAt)
      for (const replica of job.snapshotWanted) next = Math.min(next, this.#nextSnapshotAt(job, replica))
      // a snapshot in parts: its next part at the next turn of the event loop
      for (const inFlight of job.snapshotting.values()) next = Math.min(next, inFlight.sentAt)
    }
    return next
  }

  job (id: string): JobView | undefined {
    const job = this.#jobs.get(id)
    return job == null ? undefined : viewOf(job)
  }

  /** Every job this node coordinates or replicates. */
  jobs (): JobView[] {
    return [...this.#jobs.values()].map(viewOf)
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
    return { ...this.#stats, forged: { ...this.#stats.forged } }
  }

  #cancel (job: Job, why: string, effects: WorkEffect[]): void {
    this.#stats.jobsCancelled++
    leases.end(this.#ctx, job, 'cancelled', null, why, effects)
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

  /** Starts sending the whole record to one replica: part 0 now, the others one per tick (#continueSnapshots). */
  #snapshotTo (now: number, job: Job, replica: MemberId, effects: WorkEffect[]): void {
    job.snapshotAt.set(replica, now)
    job.snapshotWanted.delete(replica)
    job.snapshotting.delete(replica)
    this.#sendPart(now, job, replica, 0, 0, effects)
  }

  #sendPart (now: number, job: Job, replica: MemberId, part: number, from: number, effects: WorkEffect[]): void {
    const { msg, next } = snapshotPart(job, now, part, from)
    this.#stats.snapshotParts++
    effects.push({ kind: 'send', to: replica, msg })
    if (next == null) job.snapshotting.delete(replica)
    else job.snapshotting.set(replica, { part: part + 1, from: next, sentAt: now })
  }

  /** The next part of every snapshot being sent: one part per replica per tick keeps each turn of the event loop short. */
  #continueSnapshots (now: number, job: Job, effects: WorkEffect[]): void {
    for (const [replica, { part, from }] of job.snapshotting) {
      if (job.replicas.includes(replica)) this.#sendPart(now, job, replica, part, from, effects)
      else job.snapshotting.delete(replica)
    }
  }

  /** A replica gets at most one snapshot per snapshotMinIntervalMs: a replica that keeps missing parts cannot make the coordinator re-encode a big job in a loop. */
  #nextSnapshotAt (job: Job, replica: MemberId): number {
    return (job.snapshotAt.get(replica) ?? -Infinity) + this.#config.snapshotMinIntervalMs
  }

  #sendWantedSnapshots (now: number, job: Job, effects: WorkEffect[]): void {
    for (const replica of job.snapshotWanted) {
      if (!job.replicas.includes(replica)) job.snapshotWanted.delete(replica)
      else if (this.#nextSnapshotAt(job, replica) <= now) this.#snapshotTo(now, job, replica, effects)
    }
  }

  /** The changed records to every replica, as one delta; map tasks go without their input (replicas split it). */
  #flush (job: Job, effects: WorkEffect[]): void {
    if (job.role !== 'coordinator' || (job.dirty.size === 0 && !job.headerDirty)) return
    const tasks = [...job.dirty].sort((a, b) => a - b).map(i => {
      const { input, ...record } = job.tasks[i]
      return job.kind === 'map' ? record : { ...record, input }
    })
    job.dirty.clear()
    job.headerDirty = false
    if (job.replicas.length === 0) return
    job.seq++
    const msg: WorkMessage = {
      type: 'replicate',
      jobId: job.id,
      coordinator: this.#self,
      epoch: job.epoch,
      seq: job.seq,
      replicas: job.replicas,
      tasks: tasks as typeof job.tasks,
      status: job.status,
      result: job.result,
      error: job.error,
      ignored: job.ignored,
      duplicates: job.duplicates
    }
    for (const replica of job.replicas) effects.push({ kind: 'send', to: replica, msg })
  }

  #flushAll (effects: WorkEffect[]): void {
    for (const job of this.#jobs.values()) this.#flush(job, effects)
  }

  /** Whether `from` may send the record of a job: its coordinator, or a replica that took it over. */
  #mayReplicate (msg: { jobId: string, coordinator: MemberId, epoch: number, type: string }, from: MemberId): Verdict {
    const job = this.#jobs.get(msg.jobId)
    const verdict = msg.coordinator !== from ? 'forged' : job == null ? 'accept' : this.#judge(job, from, msg.epoch)
    if (verdict === 'forged') countForged(this.#stats.forged, msg.type)
    return verdict
  }

  #onSnapshot (now: number, from: MemberId, msg: SnapshotMessage, effects: WorkEffect[]): void {
    if (this.#mayReplicate(msg, from) !== 'accept') return // 'wait': a resync once the takeover is confirmed brings it back
    let job = this.#jobs.get(msg.jobId)
    if (job != null && (job.role === 'coordinator' ? msg.epoch <= job.epoch : msg.epoch < job.epoch)) return
    if (msg.header != null) {
      job = startReplica({ ...msg, header: msg.header }, from, this.#registry, now)
      this.#jobs.set(job.id, job)
    } else if (job?.role === 'replica' && job.assembling?.next === msg.part && job.seq === msg.seq && job.epoch === msg.epoch) {
      applyPart(job, msg)
      job.assembling.next++
      if (msg.last) job.assembling = undefined
    } else {
      this.#askResync(now, from, msg, effects)
      return
    }
    this.#takeOverIfOrphaned(now, job, effects)
  }

  #onReplicate (now: number, from: MemberId, msg: Extract<WorkMessage, { type: 'replicate' }>, effects: WorkEffect[]): void {
    if (this.#mayReplicate(msg, from) !== 'accept') return
    const job = this.#jobs.get(msg.jobId)
    if (job != null && job.role === 'coordinator' && msg.epoch <= job.epoch) return
    // deltas apply between a snapshot's parts too: a later part is at least as new as they are
    if (job == null || job.role !== 'replica' || msg.seq !== job.seq + 1 || msg.epoch !== job.epoch) {
      this.#askResync(now, from, msg, effects)
      return
    }
    job.seq = msg.seq
    job.replicas = msg.replicas
    for (const t of msg.tasks) {
      const old = job.tasks[t.index]
      if (old != null) job.tasks[t.index] = { ...t, input: t.input === undefined ? old.input : t.input }
    }
    job.status = msg.status
    job.result = msg.result
    job.error = msg.error
    job.ignored = msg.ignored
    job.duplicates = msg.duplicates
    this.#takeOverIfOrphaned(now, job, effects)
  }

  /**
   * Asks the coordinator for a snapshot, at most once per snapshotMinIntervalMs
   * per job: every delta after a gap would otherwise ask again, thousands of
   * times a second on a busy job, while the coordinator sends one per interval.
   */
  #askResync (now: number, to: MemberId, msg: { jobId: string, epoch: number }, effects: WorkEffect[]): void {
    const last = this.#resyncAskedAt.get(msg.jobId)
    if (last != null && now - last < this.#config.snapshotMinIntervalMs) return
    if (this.#resyncAskedAt.size >= RESYNC_MEMORY) {
      for (const [id, at] of this.#resyncAskedAt) if (now - at >= this.#config.snapshotMinIntervalMs) this.#resyncAskedAt.delete(id)
    }
    this.#resyncAskedAt.set(msg.jobId, now)
    effects.push({ kind: 'send', to, msg: { type: 'resync', jobId: msg.jobId, epoch: msg.epoch } })
  }

  /** A replica may learn from replication that the coordinator is already gone. */
  #takeOverIfOrphaned (now: number, job: Job, effects: WorkEffect[]): void {
    if (!this.#alive(job.coordinator) && job.status === 'running' && job.replicas.find(id => this.#alive(id)) === this.#self) {
      this.#takeOver(now, job, effects)
    }
  }

  /**
   * The coordinator is gone and this node is the first alive replica: it
   * becomes the coordinator at epoch + 1. Leases the replica knew of get a
   * fresh leaseMs (holders renew with us and re-send results); leases of dead
   * members are released; a new replica set gets a snapshot. A record this
   * node could not rebuild (its workload is missing here) ends as failed.
   * A snapshot still arriving in parts is taken as it is: tasks of the
   * missing parts look untouched and run again, and are counted once.
   */
  #takeOver (now: number, job: Job, effects: WorkEffect[]): void {
    this.#stats.jobsTakenOver++
    job.role = 'coordinator'
    job.coordinator = this.#self
    job.epoch++
    job.seq = 0
    job.assembling = undefined
    job.leaseExpiresAt.clear()
    job.lastOfferedAt.clear()
    job.pending = new Set()
    job.nextOfferAt = -Infinity
    job.snapshotAt.clear()
    job.snapshotWanted.clear()
    job.snapshotting.clear()
    for (const task of job.tasks) {
      if (task.state === 'leased') job.leaseExpiresAt.set(task.index, now + this.#config.leaseMs)
      else if (task.state === 'pending') job.pending.add(task.index)
    }
    leases.releaseDead(this.#ctx, job)
    job.dirty.clear()
    job.replicas = this.#chooseReplicas(job)
    for (const replica of job.replicas) this.#snapshotTo(now, job, replica, effects)
    effects.push({ kind: 'publish', msg: { type: 'takeover', jobId: job.id, coordinator: this.#self, epoch: job.epoch } })
    if (job.unusable != null) {
      leases.end(this.#ctx, job, 'failed', null, `cannot take the job over: ${job.unusable}`, effects)
      return
    }
    leases.maybeComplete(this.#ctx, now, job, effects)
    if (job.status === 'running') leases.offer(this.#ctx, now, job, effects)
    effects.push({ kind: 'job', job: viewOf(job) })
  }

  #judge (job: Job, from: MemberId, epoch: number): Verdict {
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
}
