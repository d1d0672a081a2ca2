/**
 * The coordinator and replica side of work claims: a sans-IO state machine
 * holding every job this node coordinates or replicates. Inputs: `submit`,
 * `receive`, `members`, `cancel`, `tick`, each with the current time;
 * outputs: effects. No clock, timer or socket in here.
 *
 * This file routes: admission.ts checks a submission, leases.ts runs the
 * coordinator role of a job, replication.ts keeps its replicas up to date,
 * replica.ts runs the replica role (and takeover), snapshot.ts packs whole
 * records for replicas, authority.ts says who may speak for a job. See
 * workloads/README.md for the rules.
 */
import { admit, JobRejectedError } from './admission.ts'
import type { WorkConfig } from './config.ts'
import { newJob, viewOf, type CoordinatorStats, type Job } from './job.ts'
import * as leases from './leases.ts'
import * as replica from './replica.ts'
import * as replication from './replication.ts'
import type { JobOptions, JobView, MemberId, Peer, Random, WorkEffect, WorkMessage, WorkloadRegistry } from './types.ts'

export { JobRejectedError }
export type { CoordinatorStats }

export interface CoordinatorOptions {
  self: MemberId
  config: WorkConfig
  registry: WorkloadRegistry
  random: Random
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
  /** Names two or more members hold: results name such a member `name@<last 8 of its id>`. */
  #sharedNames = new Set<string>()
  /** When this node last asked for a snapshot of each job (askResync, replica.ts). */
  readonly #resyncAskedAt = new Map<string, number>()
  /** When this node last told a member who speaks for a job now (replica.ts, tellAuthority). */
  readonly #authorityToldAt = new Map<string, number>()
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

  /** One context for leases.ts, replication.ts and replica.ts (each asks for a part of it). */
  readonly #ctx: replica.ReplicaContext

  constructor (opts: CoordinatorOptions) {
    this.#self = opts.self
    this.#config = opts.config
    this.#registry = opts.registry
    this.#random = opts.random
    const ctx: replica.ReplicaContext = {
      config: opts.config,
      registry: opts.registry,
      stats: this.#stats,
      self: opts.self,
      alive: (id) => this.#alive(id),
      nameOf: (id) => this.#nameOf(id),
      peers: () => this.#peers.values(),
      flush: (job, effects) => { replication.flush(ctx, job, effects) },
      jobs: this.#jobs,
      resyncAskedAt: this.#resyncAskedAt,
      authorityToldAt: this.#authorityToldAt
    }
    this.#ctx = ctx
  }

  /**
   * Validates, splits and starts a job coordinated by this node. Throws
   * JobRejectedError (nothing started) on an unknown workload, malformed or
   * oversized input, a split that throws or gives too many tasks, or a bad deadline.
   */
  submit (now: number, workloadName: string, rawInput: unknown, options: JobOptions = {}, createdAt: number | null = null): { jobId: string, effects: WorkEffect[] } {
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
      deadlineAt: admitted.deadlineMs != null ? now + admitted.deadlineMs : Infinity,
      createdAt,
      startedAt: now,
      heartbeatAt: now + this.#config.replicationHeartbeatMs,
      heardAt: now
    })
    job.pending = new Set(job.tasks.map(t => t.index))
    this.#jobs.set(job.id, job)
    this.#stats.jobsSubmitted++
    job.replicas = replication.chooseReplicas(this.#ctx, job)
    const effects: WorkEffect[] = []
    for (const to of job.replicas) replication.snapshotTo(this.#ctx, now, job, to, effects)
    if (job.replicas.length === 0) this.#held(job, effects) // no other member: nothing more to wait for
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
        if (job?.status === 'running') this.#cancel(now, job, `cancelled from ${this.#ctx.nameOf(from)}`, effects)
        break
      }
      case 'snapshot':
        replica.onSnapshot(this.#ctx, now, from, msg, effects)
        break
      case 'replicate':
        replica.onReplicate(this.#ctx, now, from, msg, effects)
        break
      case 'held': {
        const job = this.#coordinated(msg.jobId)
        if (job != null && msg.epoch === job.epoch && job.replicas.includes(from)) this.#held(job, effects)
        break
      }
      case 'resync': {
        const job = this.#jobs.get(msg.jobId)
        if (job?.role === 'coordinator') replication.onResync(this.#ctx, now, job, from, effects)
        else if (job != null) replica.vouch(this.#ctx, now, from, job, effects)
        break
      }
      case 'takeover':
        replica.onTakeover(this.#ctx, now, from, msg, effects)
        break
      case 'job-end':
        replica.onJobEnd(this.#ctx, now, from, msg, effects)
        break
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
    this.#cancel(now, job, 'cancelled', effects)
    return effects
  }

  /**
   * How results and per-node counts name a member: its name, unless another
   * member holds it too (two agents started with one --name), so that neither
   * one's answers overwrite the other's.
   */
  #nameOf (id: MemberId): string {
    const name = this.#peers.get(id)?.name
    if (name == null) return id
    return this.#sharedNames.has(name) ? `${name}@${id.slice(-8)}` : name
  }

  /**
   * The membership view changed (every member, this node included). Releases
   * the leases of members no longer alive, skips broadcast tasks aimed at
   * them, replaces lost replicas, and takes over jobs whose coordinator died.
   */
  members (now: number, peers: readonly Peer[]): WorkEffect[] {
    this.#peers = new Map(peers.map(p => [p.id, p]))
    const holders = new Map<string, number>()
    for (const p of peers) holders.set(p.name, (holders.get(p.name) ?? 0) + 1)
    this.#sharedNames = new Set([...holders].filter(([, n]) => n > 1).map(([name]) => name))
    const effects: WorkEffect[] = []
    for (const job of this.#jobs.values()) {
      if (job.status !== 'running') continue
      if (job.role === 'replica') {
        replica.onMembers(this.#ctx, now, job, effects)
        continue
      }
      leases.releaseDead(this.#ctx, job)
      replication.replaceLostReplicas(this.#ctx, now, job, effects)
      leases.maybeComplete(this.#ctx, now, job, effects)
    }
    this.#flushAll(effects)
    return effects
  }

  /**
   * Expire leases and deadlines, (re-)offer unowned tasks, send deferred
   * snapshots and heartbeats; as a replica, ask a quiet coordinator again.
   * Call at or after nextDeadline().
   */
  tick (now: number): WorkEffect[] {
    const effects: WorkEffect[] = []
    for (const job of this.#jobs.values()) {
      if (job.status !== 'running') continue
      if (job.role === 'replica') {
        replica.askIfQuiet(this.#ctx, now, job, effects)
        continue
      }
      if (job.deadlineAt <= now) {
        leases.end(this.#ctx, now, job, 'failed', null, `deadline of ${job.deadlineMs ?? 0} ms passed`, effects)
        continue
      }
      leases.expireLeases(this.#ctx, now, job)
      leases.offer(this.#ctx, now, job, effects)
      replication.sendWantedSnapshots(this.#ctx, now, job, effects)
      replication.continueSnapshots(this.#ctx, now, job, effects)
      replication.heartbeat(this.#ctx, now, job, effects)
    }
    this.#flushAll(effects)
    return effects
  }

  /** The earliest time tick() has work to do (Infinity: none). */
  nextDeadline (): number {
    let next = Infinity
    for (const job of this.#jobs.values()) {
      if (job.status !== 'running') continue
      if (job.role === 'replica') {
        next = Math.min(next, replica.quietCheckAt(this.#ctx, job))
        continue
      }
      next = Math.min(next, job.deadlineAt)
      if (job.replicas.length > 0 || job.replicasToAnnounce > 0) next = Math.min(next, job.heartbeatAt)
      for (const at of job.leaseExpiresAt.values()) next = Math.min(next, at)
      if (job.pending.size > 0) next = Math.min(next, job.nextOfferAt)
      for (const to of job.snapshotWanted) next = Math.min(next, replication.nextSnapshotAt(this.#ctx, job, to))
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

  /** The first acknowledgement of a job's record (or no replica to give one): tell the submitter, once. */
  #held (job: Job, effects: WorkEffect[]): void {
    if (job.held) return
    job.held = true
    effects.push({ kind: 'held', jobId: job.id })
  }

  #cancel (now: number, job: Job, why: string, effects: WorkEffect[]): void {
    this.#stats.jobsCancelled++
    leases.end(this.#ctx, now, job, 'cancelled', null, why, effects)
  }

  #flushAll (effects: WorkEffect[]): void {
    for (const job of this.#jobs.values()) replication.flush(this.#ctx, job, effects)
  }

  #alive (id: MemberId): boolean {
    return id === this.#self || this.#peers.get(id)?.alive === true
  }

  #coordinated (id: string): Job | undefined {
    const job = this.#jobs.get(id)
    return job?.role === 'coordinator' ? job : undefined
  }
}
