/**
 * The replica role of a job: snapshots and deltas received from its
 * coordinator, a snapshot asked for again after a gap or a silence, following
 * a replica that took the job over, and taking it over when the coordinator
 * is gone. The coordinator's side of a silence is here too: it tells a member
 * still replicating at an older epoch who speaks for the job now.
 * Pure functions over the node's Job records (job.ts) and a narrow context;
 * the coordinator (coordinator.ts) routes messages and membership here,
 * replication.ts is the sending end, authority.ts says who may speak.
 *
 * See workloads/README.md, "Who may speak for a job" and "Replication and takeover".
 */
import { countForged, judge, type Verdict } from './authority.ts'
import { viewOf, type Job } from './job.ts'
import * as leases from './leases.ts'
import { announceReplicas, chooseReplicas, snapshotTo, type ReplicationContext } from './replication.ts'
import { applyPart, startReplica, type SnapshotMessage } from './snapshot.ts'
import type { MemberId, WorkEffect, WorkMessage } from './types.ts'

/** What the replica role needs from the node around it, beyond replication's context. */
export interface ReplicaContext extends ReplicationContext {
  /** Every job this node coordinates or replicates, by id. */
  readonly jobs: Map<string, Job>
  /** When this node last asked for a snapshot of each job (askResync). */
  readonly resyncAskedAt: Map<string, number>
  /** When this node last told a member who speaks for a job now (tellAuthority), by job and member. */
  readonly authorityToldAt: Map<string, number>
}

/** Entries each of those maps remembers before old ones are pruned. */
const RATE_MEMORY = 1024

/** A replica asks again after this many heartbeats (WorkConfig.replicationHeartbeatMs) without a word from its coordinator. */
const QUIET_HEARTBEATS = 3

/**
 * Whether `key` may act now, at most once per `minMs`; remembers that it did.
 * Bounded: past RATE_MEMORY keys, those older than `minMs` are forgotten.
 */
function allowOnce (last: Map<string, number>, key: string, now: number, minMs: number): boolean {
  const at = last.get(key)
  if (at != null && now - at < minMs) return false
  if (last.size >= RATE_MEMORY) {
    for (const [k, t] of last) if (now - t >= minMs) last.delete(k)
  }
  last.set(key, now)
  return true
}

/**
 * A replica took over a job we coordinate or replicate: follow it, if it may.
 * An ended job is not revived: the member that ended it tells the taker
 * (a replica cut off from the end, on the other side of a partition).
 * The coordinator this node knows may also pass on a takeover it followed
 * (vouch): its word is the job's.
 */
export function onTakeover (ctx: ReplicaContext, now: number, from: MemberId, msg: Extract<WorkMessage, { type: 'takeover' }>, effects: WorkEffect[]): void {
  const job = ctx.jobs.get(msg.jobId)
  if (job == null) return
  if (job.status !== 'running') {
    if (job.role === 'coordinator' && msg.coordinator === from) tellAuthority(ctx, now, from, job, effects)
    return
  }
  // a vouch for the takeover this node follows already (its own among them): nothing new
  if (msg.coordinator !== from && msg.coordinator === job.coordinator && msg.epoch <= job.epoch) return
  const vouched = msg.coordinator !== from && from === job.coordinator && msg.epoch > job.epoch
  const verdict = vouched ? 'accept' : msg.coordinator === from ? judgeFor(ctx, job, from, msg.epoch) : 'forged'
  if (verdict === 'accept' && msg.coordinator !== job.coordinator) follow(job, now, msg.coordinator, msg.epoch, effects)
  else if (verdict === 'wait') job.pendingTakeover = { from, epoch: msg.epoch }
  else if (verdict === 'forged') countForged(ctx.stats.forged, msg.type)
}

/**
 * The job's coordinator ended it. Usually this node replicates it; it may also
 * be a coordinator that slept through a takeover (frozen, cut off) and hears
 * the end from the replica that took over: it steps down as for the takeover.
 * An end from a coordinator of an earlier epoch this node knew is final too:
 * this node took the job over (or followed one that did) from a record that
 * had missed the end, and that takeover is void. Its coordinator ends the job
 * with that outcome, in its own name, so that its workers and replicas stop.
 */
export function onJobEnd (ctx: ReplicaContext, now: number, from: MemberId, msg: Extract<WorkMessage, { type: 'job-end' }>, effects: WorkEffect[]): void {
  const job = ctx.jobs.get(msg.job.id)
  // A delta may have carried the end already (status copied, its tasks maybe behind:
  // deltas lost to a rate limit, a snapshot still arriving in parts): the job-end's
  // view is still taken, so that this replica reports the job as it ended.
  if (job == null || job.ended != null || (job.role === 'coordinator' && job.status !== 'running')) return
  const verdict = msg.job.coordinator === from ? judgeFor(ctx, job, from, msg.job.epoch) : 'forged'
  if (verdict === 'forged') countForged(ctx.stats.forged, msg.type)
  const final = verdict === 'stale' && job.earlier.some(e => e.coordinator === from && e.epoch === msg.job.epoch)
  if (final && job.role === 'coordinator') {
    // with the end's own counts: this node's tasks are behind that end's
    leases.end(ctx, now, job, msg.job.status, msg.job.result, msg.job.error, effects, msg.job.stats)
    job.ended = msg.job
    return
  }
  if (verdict !== 'accept' && !final) return // 'wait': the resync after a silence asks for it again
  if (from !== job.coordinator) follow(job, now, from, msg.job.epoch, effects)
  if (job.role !== 'replica') return
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
  if (pending != null && pending.epoch > job.epoch) follow(job, now, pending.from, pending.epoch, effects)
  job.pendingTakeover = undefined
  if (ctx.alive(job.coordinator)) return
  const heir = job.replicas.find(id => ctx.alive(id))
  if (heir === ctx.self) takeOver(ctx, now, job, effects)
}

/**
 * Whether `from` may send the record of a job: its coordinator, or a replica
 * that took it over. A sender still at an older epoch is a coordinator that
 * missed a takeover: if this node coordinates the job now, it tells it so.
 * An ended record takes nothing more: its coordinator tells the sender the end.
 */
function mayReplicate (ctx: ReplicaContext, now: number, msg: { jobId: string, coordinator: MemberId, epoch: number, type: string }, from: MemberId, effects: WorkEffect[]): Verdict {
  const job = ctx.jobs.get(msg.jobId)
  if (job != null && job.status !== 'running' && msg.coordinator === from) {
    if (job.role === 'coordinator') tellAuthority(ctx, now, from, job, effects)
    return 'stale'
  }
  const verdict = msg.coordinator !== from ? 'forged' : job == null ? 'accept' : judgeFor(ctx, job, from, msg.epoch)
  if (verdict === 'forged') countForged(ctx.stats.forged, msg.type)
  if (verdict === 'stale' && job?.role === 'coordinator') tellAuthority(ctx, now, from, job, effects)
  return verdict
}

/**
 * Tells a member who speaks for the job now: the end if it ended, else this
 * node's takeover. A coordinator still replicating at an older epoch steps
 * down on either (authority.ts: for one of its replicas at a higher epoch);
 * one that took an ended job over takes the end (onJobEnd). Once per
 * snapshotMinIntervalMs per job and member: its heartbeats keep coming.
 */
function tellAuthority (ctx: ReplicaContext, now: number, to: MemberId, job: Job, effects: WorkEffect[]): void {
  if (!allowOnce(ctx.authorityToldAt, `${job.id} ${to}`, now, ctx.config.snapshotMinIntervalMs)) return
  const msg: WorkMessage = job.status === 'running'
    ? { type: 'takeover', jobId: job.id, coordinator: ctx.self, epoch: job.epoch }
    : { type: 'job-end', job: viewOf(job) }
  effects.push({ kind: 'send', to, msg })
}

/**
 * A member asks this node, which no longer coordinates the job, for its
 * record: a replica of this node from before it stepped down for a takeover.
 * It is told whom this node follows (a takeover in this node's name, which it
 * accepts from the coordinator it knows), and asks that one next.
 */
export function vouch (ctx: ReplicaContext, now: number, to: MemberId, job: Job, effects: WorkEffect[]): void {
  if (job.coordinator === to || !job.earlier.some(e => e.coordinator === ctx.self)) return
  if (!allowOnce(ctx.authorityToldAt, `${job.id} ${to}`, now, ctx.config.snapshotMinIntervalMs)) return
  effects.push({ kind: 'send', to, msg: { type: 'takeover', jobId: job.id, coordinator: job.coordinator, epoch: job.epoch } })
}

export function onSnapshot (ctx: ReplicaContext, now: number, from: MemberId, msg: SnapshotMessage, effects: WorkEffect[]): void {
  if (mayReplicate(ctx, now, msg, from, effects) !== 'accept') return // 'wait': a resync once the takeover is confirmed brings it back
  let job = ctx.jobs.get(msg.jobId)
  if (job != null && (job.role === 'coordinator' ? msg.epoch <= job.epoch : msg.epoch < job.epoch)) return
  if (msg.header != null) {
    job = startReplica({ ...msg, header: msg.header }, from, ctx.registry, now)
    ctx.jobs.set(job.id, job)
  } else if (job?.role === 'replica' && job.assembling?.next === msg.part && job.seq === msg.seq && job.epoch === msg.epoch) {
    applyPart(job, msg)
    job.heardAt = now
    job.assembling.next++
    if (msg.last) job.assembling = undefined
  } else {
    askResync(ctx, now, from, msg, effects)
    return
  }
  // the whole record is here: the coordinator may tell its submitter the job survives it
  if (msg.last && job.role === 'replica') effects.push({ kind: 'send', to: from, msg: { type: 'held', jobId: job.id, epoch: msg.epoch } })
  takeOverIfOrphaned(ctx, now, job, effects)
}

export function onReplicate (ctx: ReplicaContext, now: number, from: MemberId, msg: Extract<WorkMessage, { type: 'replicate' }>, effects: WorkEffect[]): void {
  if (mayReplicate(ctx, now, msg, from, effects) !== 'accept') return
  const job = ctx.jobs.get(msg.jobId)
  if (job != null && job.role === 'coordinator' && msg.epoch <= job.epoch) return
  // the coordinator no longer counts on this node (it replaced it while it was failed
  // there): a record kept would take the job over beside the real replica one day
  if (job?.role === 'replica' && !msg.replicas.includes(ctx.self)) {
    ctx.jobs.delete(job.id)
    return
  }
  // deltas apply between a snapshot's parts too: a later part is at least as new as they are
  if (job == null || job.role !== 'replica' || msg.seq !== job.seq + 1 || msg.epoch !== job.epoch) {
    askResync(ctx, now, from, msg, effects)
    return
  }
  job.seq = msg.seq
  job.heardAt = now
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
  if (!allowOnce(ctx.resyncAskedAt, msg.jobId, now, ctx.config.snapshotMinIntervalMs)) return
  effects.push({ kind: 'send', to, msg: { type: 'resync', jobId: msg.jobId, epoch: msg.epoch } })
}

/**
 * When a running job this node replicates has been quiet long enough to ask
 * its coordinator again (Infinity while the coordinator is not alive: then
 * membership, not silence, decides). The coordinator's heartbeat deltas keep
 * a reachable one from looking quiet; the end it answers with is what a
 * replica that lost the job-end lacked.
 */
export function quietCheckAt (ctx: ReplicaContext, job: Job): number {
  if (!ctx.alive(job.coordinator)) return Infinity
  const heartbeat = ctx.config.replicationHeartbeatMs
  const asked = ctx.resyncAskedAt.get(job.id)
  const again = asked != null ? asked + Math.max(heartbeat, ctx.config.snapshotMinIntervalMs) : -Infinity
  return Math.max(job.heardAt + QUIET_HEARTBEATS * heartbeat, again)
}

/** Asks the coordinator again if the job has been quiet (quietCheckAt). */
export function askIfQuiet (ctx: ReplicaContext, now: number, job: Job, effects: WorkEffect[]): void {
  if (now < quietCheckAt(ctx, job)) return
  ctx.resyncAskedAt.delete(job.id) // due by quietCheckAt, whatever the snapshot spacing says
  askResync(ctx, now, job.coordinator, { jobId: job.id, epoch: job.epoch }, effects)
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
  job.earlier.push({ coordinator: job.coordinator, epoch: job.epoch })
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
  job.heartbeatAt = now + ctx.config.replicationHeartbeatMs
  job.replicas = chooseReplicas(ctx, job)
  for (const replica of job.replicas) snapshotTo(ctx, now, job, replica, effects)
  effects.push({ kind: 'publish', msg: { type: 'takeover', jobId: job.id, coordinator: ctx.self, epoch: job.epoch } })
  announceReplicas(job, effects) // the workers' next takeover check needs the new set
  if (job.unusable != null) {
    leases.end(ctx, now, job, 'failed', null, `cannot take the job over: ${job.unusable}`, effects)
    return
  }
  leases.maybeComplete(ctx, now, job, effects)
  if (job.status === 'running') leases.offer(ctx, now, job, effects)
  effects.push({ kind: 'job', job: viewOf(job) })
}

function judgeFor (ctx: ReplicaContext, job: Job, from: MemberId, epoch: number): Verdict {
  return judge(job, from, epoch, { coordinatorAlive: ctx.alive(job.coordinator), selfIsCoordinator: job.role === 'coordinator' })
}

/**
 * `from` took the job over at `epoch`: this node (replica, or the coordinator
 * stepping down) follows it. A coordinator stepping down says so to every
 * member: a worker that never saw it failed (it was frozen for about a
 * suspicion timeout, and refuted in time there) still follows it and takes
 * the taker's offers for a takeover to wait for (authority.ts), for good; the
 * word of the coordinator it follows moves it (worker.ts, a vouch).
 */
function follow (job: Job, now: number, from: MemberId, epoch: number, effects: WorkEffect[]): void {
  if (job.role === 'coordinator') effects.push({ kind: 'publish', msg: { type: 'takeover', jobId: job.id, coordinator: from, epoch } })
  job.earlier.push({ coordinator: job.coordinator, epoch: job.epoch })
  job.role = 'replica'
  job.coordinator = from
  job.epoch = epoch
  job.heardAt = now
  job.pendingTakeover = undefined
  job.leaseExpiresAt.clear()
}
