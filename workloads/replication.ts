/**
 * The coordinator's side of replication: which members replicate a job,
 * whole-record snapshots sent to them in parts (snapshot.ts packs them), the
 * deltas that follow, and the snapshots replicas ask for again (`resync`).
 * Pure functions over a Job record (job.ts) and a narrow context; the
 * coordinator (coordinator.ts) calls them, replica.ts is the other end.
 *
 * See workloads/README.md, "Replication and takeover".
 */
import { viewOf, type Job } from './job.ts'
import type { LeaseContext } from './leases.ts'
import { rank } from './rendezvous.ts'
import { snapshotPart } from './snapshot.ts'
import type { MemberId, Peer, WorkEffect, WorkMessage } from './types.ts'

/** What replication needs from the node around it, beyond what the coordinator role does. */
export interface ReplicationContext extends LeaseContext {
  readonly self: MemberId
  /** The membership view as last given to members() (this node included). */
  peers: () => Iterable<Peer>
}

/**
 * Replicas: the alive current ones are kept (a member joining later does not
 * move the record); vacancies are filled by rendezvous of the job id over the
 * other alive members.
 */
export function chooseReplicas (ctx: ReplicationContext, job: Job): MemberId[] {
  const kept = job.replicas.filter(id => id !== ctx.self && ctx.alive(id))
  const candidates = [...ctx.peers()]
    .filter(p => p.id !== ctx.self && ctx.alive(p.id) && !kept.includes(p.id))
    .map(p => ({ id: p.id, weight: 1 }))
  return [...kept, ...rank(job.id, candidates)].slice(0, ctx.config.replicas)
}

/**
 * A changed replica set is published this many times (now and with the next
 * heartbeats). Workers learn the replicas from offers, and refuse a takeover
 * from a member they do not know as one (authority.ts); a job with nothing
 * left to offer sends no offers, so a set that changed without this would
 * leave every worker refusing the replica that takes the job over.
 */
const REPLICA_ANNOUNCEMENTS = 3

/** The membership view changed: lost replicas are replaced and the new ones get a snapshot. */
export function replaceLostReplicas (ctx: ReplicationContext, now: number, job: Job, effects: WorkEffect[]): void {
  const wanted = chooseReplicas(ctx, job)
  const added = wanted.filter(id => !job.replicas.includes(id))
  if (added.length > 0 || wanted.length !== job.replicas.length) {
    flush(ctx, job, effects) // pending deltas go to the old set first
    job.replicas = wanted
    for (const replica of added) snapshotTo(ctx, now, job, replica, effects)
    announceReplicas(job, effects)
  }
}

/**
 * Publishes the replica set to the workers as an offer of no tasks, and
 * leaves `times - 1` announcements to the next heartbeats.
 */
export function announceReplicas (job: Job, effects: WorkEffect[], times = REPLICA_ANNOUNCEMENTS): void {
  job.replicasToAnnounce = times - 1
  effects.push({
    kind: 'publish',
    msg: { type: 'offer', jobId: job.id, coordinator: job.coordinator, epoch: job.epoch, replicas: job.replicas, workload: job.workload, kind: job.kind, tasks: [] }
  })
}

/** Starts sending the whole record to one replica: part 0 now, the others one per tick (continueSnapshots). */
export function snapshotTo (ctx: ReplicationContext, now: number, job: Job, replica: MemberId, effects: WorkEffect[]): void {
  job.snapshotAt.set(replica, now)
  job.snapshotWanted.delete(replica)
  job.snapshotting.delete(replica)
  sendPart(ctx, now, job, replica, 0, 0, effects)
}

function sendPart (ctx: ReplicationContext, now: number, job: Job, replica: MemberId, part: number, from: number, effects: WorkEffect[]): void {
  const { msg, next } = snapshotPart(job, now, part, from)
  ctx.stats.snapshotParts++
  effects.push({ kind: 'send', to: replica, msg })
  if (next == null) job.snapshotting.delete(replica)
  else job.snapshotting.set(replica, { part: part + 1, from: next, sentAt: now })
}

/** The next part of every snapshot being sent: one part per replica per tick keeps each turn of the event loop short. */
export function continueSnapshots (ctx: ReplicationContext, now: number, job: Job, effects: WorkEffect[]): void {
  for (const [replica, { part, from }] of job.snapshotting) {
    if (job.replicas.includes(replica)) sendPart(ctx, now, job, replica, part, from, effects)
    else job.snapshotting.delete(replica)
  }
}

/** A replica gets at most one snapshot per snapshotMinIntervalMs: a replica that keeps missing parts cannot make the coordinator re-encode a big job in a loop. */
export function nextSnapshotAt (ctx: ReplicationContext, job: Job, replica: MemberId): number {
  return (job.snapshotAt.get(replica) ?? -Infinity) + ctx.config.snapshotMinIntervalMs
}

export function sendWantedSnapshots (ctx: ReplicationContext, now: number, job: Job, effects: WorkEffect[]): void {
  for (const replica of job.snapshotWanted) {
    if (!job.replicas.includes(replica)) job.snapshotWanted.delete(replica)
    else if (nextSnapshotAt(ctx, job, replica) <= now) snapshotTo(ctx, now, job, replica, effects)
  }
}

/**
 * A replica of the job missed a delta or a part, or heard nothing for a while,
 * and asks for the whole record again. For an ended job the end is all it
 * lacks (the job-end it lost): any member that asks gets it, as every member
 * was sent it.
 */
export function onResync (ctx: ReplicationContext, now: number, job: Job, from: MemberId, effects: WorkEffect[]): void {
  if (job.status !== 'running') {
    effects.push({ kind: 'send', to: from, msg: { type: 'job-end', job: viewOf(job) } })
    return
  }
  if (!job.replicas.includes(from)) {
    // a replica this node replaced (it was failed here for a while) still holds the record:
    // a delta of no tasks naming the current replicas tells it to let go (replica.ts, onReplicate)
    effects.push({ kind: 'send', to: from, msg: { ...header(ctx, job), seq: job.seq, tasks: [] } })
    return
  }
  ctx.stats.replicationResyncs++
  job.snapshotWanted.add(from)
  sendWantedSnapshots(ctx, now, job, effects)
}

/**
 * Due a heartbeat: the next flush sends the replicas a delta even if nothing
 * changed (WorkConfig.replicationHeartbeatMs), and a replica set still to be
 * announced is published again.
 */
export function heartbeat (ctx: ReplicationContext, now: number, job: Job, effects: WorkEffect[]): void {
  if (now < job.heartbeatAt) return
  job.headerDirty = true
  job.heartbeatAt = now + ctx.config.replicationHeartbeatMs
  if (job.replicasToAnnounce > 0) announceReplicas(job, effects, job.replicasToAnnounce)
}

/** The changed records to every replica, as one delta; map tasks go without their input (replicas split it). */
export function flush (ctx: ReplicationContext, job: Job, effects: WorkEffect[]): void {
  if (job.role !== 'coordinator' || (job.dirty.size === 0 && !job.headerDirty)) return
  const tasks = [...job.dirty].sort((a, b) => a - b).map(i => {
    const { input, ...record } = job.tasks[i]
    return job.kind === 'map' ? record : { ...record, input }
  })
  job.dirty.clear()
  job.headerDirty = false
  if (job.replicas.length === 0) return
  job.seq++
  const msg: WorkMessage = { ...header(ctx, job), seq: job.seq, tasks: tasks as typeof job.tasks }
  for (const replica of job.replicas) effects.push({ kind: 'send', to: replica, msg })
}

/** A delta's fields besides its sequence number and task records. */
function header (ctx: ReplicationContext, job: Job): Omit<Extract<WorkMessage, { type: 'replicate' }>, 'seq' | 'tasks'> {
  return {
    type: 'replicate',
    jobId: job.id,
    coordinator: ctx.self,
    epoch: job.epoch,
    replicas: job.replicas,
    status: job.status,
    result: job.result,
    error: job.error,
    ignored: job.ignored,
    duplicates: job.duplicates
  }
}
