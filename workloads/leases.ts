/**
 * The coordinator role of one job: offers, claims → leases, renewals,
 * releases, results counted exactly once, completion. Pure functions over a
 * Job record (job.ts) and a narrow context; the coordinator (coordinator.ts)
 * routes messages here for jobs it coordinates, and replication.ts sends
 * what changes to the replicas.
 *
 * See workloads/README.md for the rules (claims, leases, counting).
 */
import type { WorkConfig } from './config.ts'
import type { CoordinatorStats, Job } from './job.ts'
import { viewOf } from './job.ts'
import { MAX_JOB_RESULT_BYTES, unsendable } from './limits.ts'
import type { CountedResult, JobStatus, JobView, MemberId, TaskRecord, WorkEffect, WorkMessage, WorkloadRegistry } from './types.ts'

/** What the coordinator role needs from the node around it. */
export interface LeaseContext {
  readonly config: WorkConfig
  readonly registry: WorkloadRegistry
  readonly stats: CoordinatorStats
  alive: (id: MemberId) => boolean
  /** A member's name for `doneBy` (its id if unknown). */
  nameOf: (id: MemberId) => string
  /** Sends the job's changed records to its replicas (before grants leave: see workloads/README.md, takeover). */
  flush: (job: Job, effects: WorkEffect[]) => void
}

function message (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export function onClaim (ctx: LeaseContext, now: number, job: Job, from: MemberId, indexes: number[], effects: WorkEffect[]): void {
  const granted: Array<{ index: number, input: unknown }> = []
  const denied: number[] = []
  const running = job.status === 'running' && ctx.alive(from)
  for (const index of indexes) {
    const task = job.tasks[index]
    if (task == null || (task.target != null && task.target !== from)) {
      ignore(ctx, job) // a task that does not exist or is aimed at another member
      denied.push(index)
    } else if (!running || task.state === 'done' || task.state === 'skipped') {
      ctx.stats.claimsDenied++ // a stale offer: normal
      denied.push(index)
    } else if (task.state === 'pending') {
      // First claim of an unowned task wins: the coordinator serialises claims.
      task.state = 'leased'
      job.pending.delete(index)
      task.holder = from
      task.grants++
      job.leaseExpiresAt.set(index, now + ctx.config.leaseMs)
      job.lastOfferedAt.delete(index)
      job.dirty.add(index)
      ctx.stats.claimsGranted++
      granted.push({ index, input: task.input })
    } else if (task.holder === from) {
      granted.push({ index, input: task.input }) // a repeated claim: the grant was lost
    } else {
      ctx.stats.claimsDenied++
      denied.push(index)
    }
  }
  // Granted tasks left the offer window: offer the ones sliding in soon, in one batch.
  if (granted.length > 0 && job.pending.size > 0) job.nextOfferAt = Math.min(job.nextOfferAt, now + ctx.config.offerSlideDelayMs)
  // Replicate the grants before the worker hears of them (see workloads/README.md: takeover).
  ctx.flush(job, effects)
  if (granted.length > 0) effects.push({ kind: 'send', to: from, msg: { type: 'grant', jobId: job.id, epoch: job.epoch, workload: job.workload, tasks: granted } })
  if (denied.length > 0) effects.push({ kind: 'send', to: from, msg: { type: 'deny', jobId: job.id, epoch: job.epoch, tasks: denied } })
}

export function onRenew (ctx: LeaseContext, now: number, job: Job, from: MemberId, indexes: number[], effects: WorkEffect[]): void {
  const revoked: number[] = []
  for (const index of indexes) {
    const task = job.tasks[index]
    if (job.status === 'running' && task?.state === 'leased' && task.holder === from) {
      job.leaseExpiresAt.set(index, now + ctx.config.leaseMs)
    } else {
      ignore(ctx, job)
      revoked.push(index)
    }
  }
  if (revoked.length > 0) effects.push({ kind: 'send', to: from, msg: { type: 'revoke', jobId: job.id, epoch: job.epoch, tasks: revoked } })
}

export function onRelease (ctx: LeaseContext, job: Job, from: MemberId, indexes: number[]): void {
  for (const index of indexes) {
    const task = job.tasks[index]
    if (task?.state === 'leased' && task.holder === from) {
      task.grants-- // given back unrun: not a re-run when granted again
      makePending(job, task)
    } else {
      ignore(ctx, job)
    }
  }
}

export function onResult (ctx: LeaseContext, now: number, job: Job, from: MemberId, msg: Extract<WorkMessage, { type: 'result' }>, effects: WorkEffect[]): void {
  const task = job.tasks[msg.index]
  const ack = (counted: boolean): void => {
    effects.push({ kind: 'send', to: from, msg: { type: 'result-ack', jobId: job.id, epoch: job.epoch, index: msg.index, counted } })
  }
  if (task == null) {
    ignore(ctx, job)
    ack(false)
    return
  }
  if (task.state === 'done' && task.producer === from) {
    // Re-sent after a takeover, or the ack was lost: already counted once.
    job.duplicates++
    job.headerDirty = true
    ctx.stats.duplicateResults++
    ack(true)
    return
  }
  if (task.state !== 'leased' || task.holder !== from || job.status !== 'running') {
    ignore(ctx, job)
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
    task.doneBy = ctx.nameOf(from)
    ack(true)
    maybeComplete(ctx, now, job, effects)
    return
  }
  task.errors++
  task.lastError = msg.error ?? 'unknown error'
  ack(false)
  if (task.errors >= ctx.config.maxTaskAttempts) {
    task.state = 'pending'
    job.pending.add(task.index)
    task.holder = undefined
    end(ctx, now, job, 'failed', null, `task ${task.index} failed ${task.errors} times: ${task.lastError}`, effects)
  } else {
    makePending(job, task)
  }
}

export function makePending (job: Job, task: TaskRecord): void {
  task.state = 'pending'
  job.pending.add(task.index)
  task.holder = undefined
  job.leaseExpiresAt.delete(task.index)
  job.lastOfferedAt.delete(task.index)
  job.nextOfferAt = -Infinity // offer it again on the next tick
  job.dirty.add(task.index)
}

function ignore (ctx: LeaseContext, job: Job): void {
  job.ignored++
  job.headerDirty = true
  ctx.stats.ignored++
}

/** Releases the leases of members no longer alive and skips broadcast tasks aimed at them. */
export function releaseDead (ctx: LeaseContext, job: Job): void {
  for (const task of job.tasks) {
    if (task.target != null && !ctx.alive(task.target) && (task.state === 'pending' || task.state === 'leased')) {
      job.leaseExpiresAt.delete(task.index)
      task.state = 'skipped'
      job.pending.delete(task.index)
      task.holder = undefined
      job.dirty.add(task.index)
    } else if (task.state === 'leased' && task.holder != null && !ctx.alive(task.holder)) {
      ctx.stats.leasesReleasedOnFailure++
      makePending(job, task)
    }
  }
}

/** Leases whose deadline passed go back to pending. */
export function expireLeases (ctx: LeaseContext, now: number, job: Job): void {
  for (const [index, at] of job.leaseExpiresAt) {
    if (at <= now) {
      ctx.stats.leasesExpired++
      makePending(job, job.tasks[index])
    }
  }
}

/**
 * Offers the pending tasks not offered within offerIntervalMs, in batches;
 * each offer widens the claim set. Only the first offerWindowTasks pending
 * tasks are offered: a job of 100,000 tasks does not re-send 100,000 offers
 * every interval while the cluster can only run a few hundred at once.
 */
export function offer (ctx: LeaseContext, now: number, job: Job, effects: WorkEffect[]): void {
  if (now < job.nextOfferAt) return
  const due: TaskRecord[] = []
  let next = Infinity
  let seen = 0
  for (const index of job.pending) {
    if (seen++ >= ctx.config.offerWindowTasks) break
    const last = job.lastOfferedAt.get(index)
    if (last == null || last + ctx.config.offerIntervalMs <= now) {
      due.push(job.tasks[index])
      next = Math.min(next, now + ctx.config.offerIntervalMs)
    } else {
      next = Math.min(next, last + ctx.config.offerIntervalMs)
    }
  }
  // tasks sliding into the window as others are claimed wait for the next round at most
  job.nextOfferAt = job.pending.size > 0 ? Math.min(next, now + ctx.config.offerIntervalMs) : Infinity
  for (let i = 0; i < due.length; i += ctx.config.offerBatchSize) {
    const batch = due.slice(i, i + ctx.config.offerBatchSize).map(task => {
      job.lastOfferedAt.set(task.index, now)
      const offered = { index: task.index, round: task.round, ...(task.target != null ? { target: task.target } : {}) }
      task.round++
      return offered
    })
    effects.push({
      kind: 'publish',
      msg: { type: 'offer', jobId: job.id, coordinator: job.coordinator, epoch: job.epoch, replicas: job.replicas, workload: job.workload, kind: job.kind, tasks: batch }
    })
  }
}

export function maybeComplete (ctx: LeaseContext, now: number, job: Job, effects: WorkEffect[]): void {
  if (job.status !== 'running' || job.role !== 'coordinator') return
  // cheap test first (every result calls this): nothing pending, nothing leased
  if (job.pending.size > 0 || job.leaseExpiresAt.size > 0) return
  if (!job.tasks.every(t => t.state === 'done' || t.state === 'skipped')) return
  const workload = ctx.registry.get(job.workload)
  const counted: CountedResult[] = job.tasks
    .filter(t => t.state === 'done')
    .map(t => ({ index: t.index, node: t.doneBy ?? '', value: t.value }))
  let result: unknown
  try {
    if (workload == null) throw new Error(`workload ${job.workload} is not registered on this node`)
    result = workload.reduce(counted, job.input)
  } catch (err) {
    end(ctx, now, job, 'failed', null, `reduce failed: ${message(err)}`, effects)
    return
  }
  // the result travels in one job-end message that every node caches
  const why = unsendable(result, 'the job result', MAX_JOB_RESULT_BYTES)
  if (why != null) end(ctx, now, job, 'failed', null, why, effects)
  else end(ctx, now, job, 'done', result, null, effects)
}

/** Ends the job and tells everyone. `stats`: the counts of an end this node relays (replica.ts, onJobEnd), not its own. */
export function end (ctx: LeaseContext, now: number, job: Job, status: JobStatus, result: unknown, error: string | null, effects: WorkEffect[], stats?: JobView['stats']): void {
  job.durationMs = Math.max(0, Math.round(now - job.startedAt))
  job.status = status
  job.result = result
  job.error = error
  job.headerDirty = true
  job.leaseExpiresAt.clear()
  job.lastOfferedAt.clear()
  job.pending.clear()
  ctx.flush(job, effects)
  const view = viewOf(job)
  if (stats != null) view.stats = stats
  effects.push({ kind: 'publish', msg: { type: 'job-end', job: view } })
  effects.push({ kind: 'job', job: view })
}
