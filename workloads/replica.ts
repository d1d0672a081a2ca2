/**
 * The replica role of a job: snapshots and deltas received from its
 * coordinator, a snapshot asked for again after a gap, following a replica
 * that took the job over, and taking it over when the coordinator is gone.
 * Pure functions over the node's Job records (job.ts) and a narrow context;
 * the coordinator (coordinator.ts) routes messages and membership here,
 * replication.ts is the sending end, authority.ts says who may speak.
 *
 * See workloads/README.md, "Who may speak for a job" and "Replication and takeover".
 */
import { countForged, judge, type Verdict } from './authority.ts'
import { viewOf, type Job } from './job.ts'
import * as leases from './leases.ts'
import { chooseReplicas, snapshotTo, type ReplicationContext } from './replication.ts'
import { applyPart, startReplica, type SnapshotMessage } from './snapshot.ts'
import type { MemberId, WorkEffect, WorkMessage } from './types.ts'

/** What the replica role needs from the node around it, beyond replication's context. */
export interface ReplicaContext extends ReplicationContext {
  /** Every job this node coordinates or replicates, by id. */
  readonly jobs: Map<string, Job>
  /** When this node last asked for a snapshot of each job (askResync). */
  readonly resyncAskedAt: Map<string, number>
}

/** Jobs whose last snapshot request is remembered before old entries are pruned. */
const RESYNC_MEMORY = 1024

/** A replica took over a job we coordinate or replicate: follow it, if it may. */
export function onTakeover (ctx: ReplicaContext, from: MemberId, msg: Extract<WorkMessage, { type: 'takeover' }>): void {
  const job = ctx.jobs.get(msg.jobId)
  if (job == null) return
  const verdict = msg.coordinator === from ? judgeFor(ctx, job, from, msg.epoch) : 'forged'
  if (verdict === 'accept' && from !== job.coordinator) follow(job, from, msg.epoch)
  else if (verdict === 'wait') job.pendingTakeover = { from, epoch: msg.epoch }
  else if (verdict === 'forged') countForged(ctx.stats.forged, msg.type)
}

/** The coordinator of a job this node replicates ended it. */
export function onJobEnd (ctx: ReplicaContext, from: MemberId, msg: Extract<WorkMessage, { type: 'job-end' }>): void {
  const job = ctx.jobs.get(msg.job.id)
  // A delta may have carried the end already (status copied, its tasks maybe behind:
  // deltas lost to a rate limit, a snapshot still arriving in parts): the job-end's
  // view is still taken, so that this replica reports the job as it ended.
  if (job == null || job.role !== 'replica' || job.ended != null) return
  if (from !== job.coordinator || msg.job.coordinator !== from) {
    countForged(ctx.stats.forged, msg.type)
    return
  }
  job.status = msg.job.status
  job.result = msg.job.result
  job.error = msg.job.error
  job.ended = msg.job
}

/**
 * The membership view changed, for a running job this node replicates: once
 * its coordinator is no longer alive, a takeover heard earlier is followed,
 * else the first alive replica takes the job over.
 */
export function onMembers (ctx: ReplicaContext, now: number, job: Job, effects: WorkEffect[]): void {
  if (ctx.alive(job.coordinator)) return
  // the takeover heard earlier is confirmed now
  const pending = job.pendingTakeover
  if (pending != null && pending.epoch > job.epoch) follow(job, pending.from, pending.epoch)
  job.pendingTakeover = undefined
  if (ctx.alive(job.coordinator)) return
  const heir = job.replicas.find(id => ctx.alive(id))
  if (heir === ctx.self) takeOver(ctx, now, job, effects)
}

/** Whether `from` may send the record of a job: its coordinator, or a replica that took it over. */
function mayReplicate (ctx: ReplicaContext, msg: { jobId: string, coordinator: MemberId, epoch: number, type: string }, from: MemberId): Verdict {
  const job = ctx.jobs.get(msg.jobId)
  const verdict = msg.coordinator !== from ? 'forged' : job == null ? 'accept' : judgeFor(ctx, job, from, msg.epoch)
  if (verdict === 'forged') countForged(ctx.stats.forged, msg.type)
  return verdict
}

export function onSnapshot (ctx: ReplicaContext, now: number, from: MemberId, msg: SnapshotMessage, effects: WorkEffect[]): void {
  if (mayReplicate(ctx, msg, from) !== 'accept') return // 'wait': a resync once the takeover is confirmed brings it back
  let job = ctx.jobs.get(msg.jobId)
  if (job != null && (job.role === 'coordinator' ? msg.epoch <= job.epoch : msg.epoch < job.epoch)) return
  if (msg.header != null) {
    job = startReplica({ ...msg, header: msg.header }, from, ctx.registry, now)
    ctx.jobs.set(job.id, job)
  } else if (job?.role === 'replica' && job.assembling?.next === msg.part && job.seq === msg.seq && job.epoch === msg.epoch) {
    applyPart(job, msg)
    job.assembling.next++
    if (msg.last) job.assembling = undefined
  } else {
    askResync(ctx, now, from, msg, effects)
    return
  }
  takeOverIfOrphaned(ctx, now, job, effects)
}

export function onReplicate (ctx: ReplicaContext, now: number, from: MemberId, msg: Extract<WorkMessage, { type: 'replicate' }>, effects: WorkEffect[]): void {
  if (mayReplicate(ctx, msg, from) !== 'accept') return
  const job = ctx.jobs.get(msg.jobId)
  if (job != null && job.role === 'coordinator' && msg.epoch <= job.epoch) return
  // deltas apply between a snapshot's parts too: a later part is at least as new as they are
  if (job == null || job.role !== 'replica' || msg.seq !== job.seq + 1 || msg.epoch !== job.epoch) {
    askResync(ctx, now, from, msg, effects)
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
  takeOverIfOrphaned(ctx, now, job, effects)
}

/**
 * Asks the coordinator for a snapshot, at most once per snapshotMinIntervalMs
 * per job: every delta after a gap would otherwise ask again, thousands of
 * times a second on a busy job, while the coordinator sends one per interval.
 */
function askResync (ctx: ReplicaContext, now: number, to: MemberId, msg: { jobId: string, epoch: number }, effects: WorkEffect[]): void {
  const last = ctx.resyncAskedAt.get(msg.jobId)
  if (last != null && now - last < ctx.config.snapshotMinIntervalMs) return
  if (ctx.resyncAskedAt.size >= RESYNC_MEMORY) {
    for (const [id, at] of ctx.resyncAskedAt) if (now - at >= ctx.config.snapshotMinIntervalMs) ctx.resyncAskedAt.delete(id)
  }
  ctx.resyncAskedAt.set(msg.jobId, now)
  effects.push({ kind: 'send', to, msg: { type: 'resync', jobId: msg.jobId, epoch: msg.epoch } })
}

/** A replica may learn from replication that the coordinator is already gone. */
function takeOverIfOrphaned (ctx: ReplicaContext, now: number, job: Job, effects: WorkEffect[]): void {
  if (!ctx.alive(job.coordinator) && job.status === 'running' && job.replicas.find(id => ctx.alive(id)) === ctx.self) {
    takeOver(ctx, now, job, effects)
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
function takeOver (ctx: ReplicaContext, now: number, job: Job, effects: WorkEffect[]): void {
  ctx.stats.jobsTakenOver++
  job.role = 'coordinator'
  job.coordinator = ctx.self
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
    if (task.state === 'leased') job.leaseExpiresAt.set(task.index, now + ctx.config.leaseMs)
    else if (task.state === 'pending') job.pending.add(task.index)
  }
  leases.releaseDead(ctx, job)
  job.dirty.clear()
  job.replicas = chooseReplicas(ctx, job)
  for (const replica of job.replicas) snapshotTo(ctx, now, job, replica, effects)
  effects.push({ kind: 'publish', msg: { type: 'takeover', jobId: job.id, coordinator: ctx.self, epoch: job.epoch } })
  if (job.unusable != null) {
    leases.end(ctx, job, 'failed', null, `cannot take the job over: ${job.unusable}`, effects)
    return
  }
  leases.maybeComplete(ctx, now, job, effects)
  if (job.status === 'running') leases.offer(ctx, now, job, effects)
  effects.push({ kind: 'job', job: viewOf(job) })
}

function judgeFor (ctx: ReplicaContext, job: Job, from: MemberId, epoch: number): Verdict {
  return judge(job, from, epoch, { coordinatorAlive: ctx.alive(job.coordinator), selfIsCoordinator: job.role === 'coordinator' })
}

/** `from` took the job over at `epoch`: this node (replica, or the coordinator stepping down) follows it. */
function follow (job: Job, from: MemberId, epoch: number): void {
  job.role = 'replica'
  job.coordinator = from
  job.epoch = epoch
  job.pendingTakeover = undefined
  job.leaseExpiresAt.clear()
}
