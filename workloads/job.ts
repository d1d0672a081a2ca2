/**
 * The job record the coordinator keeps and its replicas copy: what is
 * replicated (JobSnapshot's fields) plus what only one role needs. Pure data
 * and pure functions; the coordinator (coordinator.ts) changes it.
 */
import type { ForgedCounts } from './authority.ts'
import type { JobKind, JobStatus, JobView, MemberId, TaskRecord } from './types.ts'

/** Counters of the coordinator and replica side, for metrics and tests; they only grow. */
export interface CoordinatorStats {
  jobsSubmitted: number
  jobsTakenOver: number
  jobsCancelled: number
  claimsGranted: number
  /** Claims for a task leased to another member (normal contention). */
  claimsDenied: number
  /** Claims, renewals, releases and results for tasks the sender did not hold. */
  ignored: number
  /** Results for an already counted task. */
  duplicateResults: number
  leasesExpired: number
  leasesReleasedOnFailure: number
  /** Snapshots asked for by replicas that missed a delta or a part. */
  replicationResyncs: number
  /** Snapshot messages (parts) sent. */
  snapshotParts: number
  /** Takeovers, replication and job ends from members without that role (authority.ts), by message type. */
  forged: ForgedCounts
}

export interface Job {
  /** Replica: the coordinator's final view from its job-end (this record's tasks may be behind it). */
  ended?: JobView
  role: 'coordinator' | 'replica'
  id: string
  workload: string
  kind: JobKind
  input: unknown
  coordinator: MemberId
  epoch: number
  replicas: MemberId[]
  status: JobStatus
  result: unknown
  error: string | null
  ignored: number
  duplicates: number
  tasks: TaskRecord[]
  deadlineMs: number | null
  /** When the job fails for its deadline, in this node's clock (Infinity: none). */
  deadlineAt: number
  /** Wall-clock time of the submit (ms since 1970, the submitting agent's clock; null: not given). */
  createdAt: number | null
  /** When the job was submitted, in this node's clock (a replica's from the snapshot's ageMs). */
  startedAt: number
  /** Submit to end, once ended (this node's clock since startedAt). */
  durationMs: number | null
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
  /** Coordinator only: a replica acknowledged the whole record (`held`), or there is none to hold it. */
  held: boolean
  /** Coordinator: last seq sent; replica: last seq applied. */
  seq: number
  /** Coordinator: tasks changed since the last replication. */
  dirty: Set<number>
  /** Coordinator: status, result or counters changed since the last replication. */
  headerDirty: boolean
  /** Coordinator: when each replica was last sent a snapshot (see WorkConfig.snapshotMinIntervalMs). */
  snapshotAt: Map<MemberId, number>
  /** Coordinator: replicas that asked for a snapshot before the interval had passed. */
  snapshotWanted: Set<MemberId>
  /** Coordinator: snapshots being sent, a part per tick: the next part's number and first task. */
  snapshotting: Map<MemberId, { part: number, from: number, sentAt: number }>
  /** Coordinator: when the next delta is due even if nothing changed (WorkConfig.replicationHeartbeatMs). */
  heartbeatAt: number
  /** Coordinator: announcements of a changed replica set still to publish, one per heartbeat (replication.ts). */
  replicasToAnnounce: number
  /** Replica: when the coordinator last replicated to it (a snapshot, a part or a delta). */
  heardAt: number
  /** Replica: a snapshot arriving in parts, and the part it expects next. */
  assembling?: { next: number }
  /**
   * Coordinators this node knew the job under before the current one, with
   * their epochs: an end from one of them is final (replica.ts, onJobEnd).
   */
  earlier: Array<{ coordinator: MemberId, epoch: number }>
  /** Replica: a takeover heard before this node's failure detector confirmed the coordinator failed. */
  pendingTakeover?: { from: MemberId, epoch: number }
  /** Replica: why this node could not rebuild the tasks (its workload is not registered here). */
  unusable?: string
}

/** A new job record; the caller sets the role-specific parts it needs. */
export function newJob (init: Pick<Job, 'role' | 'id' | 'workload' | 'kind' | 'input' | 'coordinator' | 'epoch' | 'replicas' | 'tasks' | 'deadlineMs' | 'deadlineAt' | 'heartbeatAt' | 'heardAt' | 'createdAt' | 'startedAt'>): Job {
  return {
    ...init,
    durationMs: null,
    status: 'running',
    result: null,
    error: null,
    ignored: 0,
    duplicates: 0,
    leaseExpiresAt: new Map(),
    lastOfferedAt: new Map(),
    pending: new Set(),
    nextOfferAt: -Infinity,
    seq: 0,
    dirty: new Set(),
    headerDirty: false,
    held: false,
    replicasToAnnounce: 0,
    earlier: [],
    snapshotAt: new Map(),
    snapshotWanted: new Set(),
    snapshotting: new Map()
  }
}

export function newTask (index: number, input: unknown): TaskRecord {
  return { index, input, state: 'pending', grants: 0, errors: 0, round: 0 }
}

/** A task as it was created: a snapshot need not carry it (the replica splits the input again). */
export function untouched (task: TaskRecord): boolean {
  return task.state === 'pending' && task.grants === 0 && task.errors === 0 && task.lastError == null && task.target == null
}

/** The JSON face of a job. O(tasks): callers throttle it for big jobs. */
export function viewOf (job: Job): JobView {
  if (job.ended != null) return job.ended
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
    epoch: job.epoch,
    deadlineMs: job.deadlineMs,
    createdAt: job.createdAt != null ? new Date(job.createdAt).toISOString() : null,
    durationMs: job.durationMs
  }
}
