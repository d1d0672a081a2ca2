/**
 * The contract of the sans-IO work-claims core: jobs, tasks, wire messages and
 * effects. Nothing here knows about libp2p, clocks or worker threads.
 *
 * Every message is plain JSON-compatible data (numbers, strings, arrays,
 * objects), so it can be encoded by any codec. The sender is never in the
 * message: the transport authenticates the peer and passes its id to
 * `receive()`, as in membership/.
 */
import type { MemberId, Random } from '../membership/types.ts'

export type { MemberId, Random }

export type JobKind = 'map' | 'broadcast'
/** `cancelled`: stopped on request (`agent job cancel`); `failed` includes a passed deadline. */
export type JobStatus = 'running' | 'done' | 'failed' | 'cancelled'

/** Per-job options given at submit. */
export interface JobOptions {
  /** The job fails if it has not ended this long after it was submitted (a takeover keeps the remaining time). */
  deadlineMs?: number
}

/** What a workload's `run` gets besides its task input. */
export interface RunContext {
  /** Aborted when the lease is revoked, the job ends or the agent stops. */
  signal: AbortSignal
  /** This node's member name. */
  node: string
  /** This node's tags (broadcast workloads may answer with them). */
  tags: Record<string, string>
}

/** One counted task result handed to `reduce`, in task order. */
export interface CountedResult<R = unknown> {
  index: number
  /** Member name of the node that produced the counted result. */
  node: string
  value: R
}

/**
 * A workload. `validate`, `split` and `reduce` run inside the core and must
 * be pure and synchronous (they run again on a replica after a takeover);
 * `run` is called by the driver (worker thread, event loop, simulator).
 *
 * - `map`: `split(input)` gives the task inputs; each is run once (at least
 *   once, counted once); `reduce` combines the counted results in task order.
 * - `broadcast`: one task per alive member (matching `input.tags` if the
 *   input has a `tags` object); each runs `run(input)` on its target;
 *   `reduce` receives one result per answering node.
 */
export interface Workload<I = any, T = any, R = any, J = any> {
  kind: JobKind
  /**
   * The agent runs `run` of a CPU-bound built-in in a task thread, off the
   * event loop that answers probes. Registered workloads always run on the
   * event loop (a thread cannot receive a function): keep their runs short
   * or asynchronous.
   */
  cpuBound?: boolean
  /** One line for `agent workloads` and error messages. */
  description: string
  /** Checks and normalises the input; throws (any Error) with a clear message. */
  validate: (input: unknown) => I
  /** map only: the task inputs. Must be deterministic. */
  split?: (input: I) => T[]
  /**
   * Checks one task input as a worker receives it, before `run`; throws with
   * a clear message. A grant comes from another member: without this check a
   * member could make this node run any input (a 1.5 GB block, a range that
   * never ends). Built-ins apply the same limits as `validate`. Optional for
   * registered workloads (their tasks then run as granted).
   */
  validateTask?: (task: unknown) => T
  run: (task: T, ctx: RunContext) => Promise<R>
  reduce: (results: Array<CountedResult<R>>, input: I) => J
}

export type WorkloadRegistry = ReadonlyMap<string, Workload>

/** What the core knows of a member: fed from membership on every change. */
export interface Peer {
  id: MemberId
  name: string
  /** Only `alive` members take part; `suspect` ones keep their leases (alive: true). */
  alive: boolean
  tags: Record<string, string>
}

/** A task's state in the job record (coordinator and replicas). */
export interface TaskRecord {
  index: number
  input: unknown
  /** broadcast: the only member that may run it. */
  target?: MemberId
  state: 'pending' | 'leased' | 'done' | 'skipped'
  /** Lease holder while `leased`. */
  holder?: MemberId
  /** Times the task was granted (run). grants > 1 = a rerun. */
  grants: number
  /** Runs that threw. */
  errors: number
  lastError?: string
  /** Counted result (state `done`). */
  value?: unknown
  /** Member name that produced the counted result. */
  doneBy?: string
  /** Member id that produced the counted result (a re-sent result from it is acknowledged, not counted). */
  producer?: MemberId
  /** How many times it was offered: widens the set of members that may claim it. */
  round: number
}

export interface JobStats {
  tasks: number
  /** Tasks run more than once (granted again after a lease was lost, a holder failed or a run threw). */
  rerun: number
  /** Member name → tasks whose counted result it produced. */
  perNode: Record<string, number>
  /** Tasks done (counted) so far. */
  done: number
  /** Claims, renewals and results for tasks the sender did not hold (ignored). */
  ignored: number
  /** Results for a task already counted (dropped, not counted twice). */
  duplicates: number
}

/** The JSON face of a job (`GET /v1/jobs/ID`). */
export interface JobView {
  id: string
  workload: string
  kind: JobKind
  status: JobStatus
  result: unknown
  error: string | null
  stats: JobStats
  coordinator: MemberId
  epoch: number
  /** The deadline given at submit, if any. */
  deadlineMs: number | null
  /** When it was submitted, ISO 8601 (null: unknown, e.g. from an older agent). */
  createdAt: string | null
  /** Submit to end, once ended (null while running). */
  durationMs: number | null
}

/** A task as offered: only its index and how wide the claim set is. */
export interface OfferedTask {
  index: number
  /** 0 on the first offer; each re-offer widens the claim set by one member. */
  round: number
  target?: MemberId
}

/** A task as granted: what the worker needs to run it. */
export interface GrantedTask {
  index: number
  input: unknown
}

/**
 * What a replica needs besides the task records to rebuild a job: a map
 * job's tasks are split again from `input` (split is deterministic), so a
 * snapshot carries only the records that changed since the split.
 */
export interface SnapshotHeader {
  workload: string
  kind: JobKind
  input: unknown
  status: JobStatus
  result: unknown
  error: string | null
  ignored: number
  duplicates: number
  /** Tasks in the job. */
  taskCount: number
  deadlineMs: number | null
  /** Time left until the deadline when the snapshot was made (the replica's clock starts there). */
  remainingMs: number | null
  /** Wall-clock submit time (ms since 1970), and the job's age when the snapshot was made. Absent from older agents. */
  createdAt?: number | null
  ageMs?: number
}

/**
 * One task record in a snapshot, as an array so that a million fit in a few
 * messages: [index, state, grants, errors, round, holder, producer, doneBy,
 * value?, lastError?, target?, input?]. `state` indexes SNAPSHOT_TASK_STATES;
 * holder, producer and target index the message's `members` and doneBy its
 * `names` (-1: none); trailing fields are left out when unset (null in between).
 */
export type PackedTask = unknown[]

export const SNAPSHOT_TASK_STATES = ['pending', 'leased', 'done', 'skipped'] as const

/**
 * Wire messages. Channel: `topic` = the cluster gossipsub topic (everyone
 * hears it), `direct` = a stream to one member.
 */
export type WorkMessage =
  /**
   * topic, coordinator → all: tasks waiting for an owner. `replicas` are the
   * members that may take the job over if the coordinator fails: workers
   * follow a takeover only from one of them (workloads/authority.ts).
   */
  | { type: 'offer', jobId: string, coordinator: MemberId, epoch: number, replicas: MemberId[], workload: string, kind: JobKind, tasks: OfferedTask[] }
  /** direct, worker → coordinator: I want these tasks. */
  | { type: 'claim', jobId: string, coordinator: MemberId, epoch: number, tasks: number[] }
  /** direct, coordinator → worker: leases granted, with the task inputs. */
  | { type: 'grant', jobId: string, epoch: number, workload: string, tasks: GrantedTask[] }
  /** direct, coordinator → worker: claims refused (leased elsewhere, done, not yours). */
  | { type: 'deny', jobId: string, epoch: number, tasks: number[] }
  /** direct, worker → coordinator: still running these; extend the leases. */
  | { type: 'renew', jobId: string, epoch: number, tasks: number[] }
  /** direct, coordinator → worker: you do not hold these (any more): stop them. */
  | { type: 'revoke', jobId: string, epoch: number, tasks: number[] }
  /** direct, worker → coordinator: give these back unrun (no free slot). */
  | { type: 'release', jobId: string, epoch: number, tasks: number[] }
  /** direct, worker → coordinator: a task's outcome. */
  | { type: 'result', jobId: string, epoch: number, index: number, ok: boolean, value?: unknown, error?: string }
  /** direct, coordinator → worker: the result was handled (`counted` false: ignored); forget it. */
  | { type: 'result-ack', jobId: string, epoch: number, index: number, counted: boolean }
  /**
   * direct, coordinator → replica: the whole job record in parts, made one at
   * a time (part 0 carries the header; `last` ends it). `seq` is the last
   * delta sent before the part: deltas go on between parts.
   */
  | { type: 'snapshot', jobId: string, coordinator: MemberId, epoch: number, seq: number, replicas: MemberId[], part: number, last: boolean, header?: SnapshotHeader, members: MemberId[], names: string[], tasks: PackedTask[] }
  /** direct, coordinator → replica: the records changed since delta seq − 1 (map tasks without their input). */
  | { type: 'replicate', jobId: string, coordinator: MemberId, epoch: number, seq: number, replicas: MemberId[], tasks: TaskRecord[], status: JobStatus, result: unknown, error: string | null, ignored: number, duplicates: number }
  /** direct, replica → coordinator: I missed an update, send a full snapshot. */
  | { type: 'resync', jobId: string, epoch: number }
  /** direct, replica → coordinator: I hold the whole record now (a snapshot's last part applied). */
  | { type: 'held', jobId: string, epoch: number }
  /** topic, new coordinator → all: I took the job over at this epoch. */
  | { type: 'takeover', jobId: string, coordinator: MemberId, epoch: number }
  /** direct, any member → coordinator: stop the job (an operator's `agent job cancel` on that member). */
  | { type: 'cancel', jobId: string }
  /** topic, coordinator → all: the job ended; lets any node answer `agent job ID`. */
  | { type: 'job-end', job: JobView }
  /** topic, every node: free task slots, the weight of the claim rule. */
  | { type: 'capacity', free: number, slots: number }

export type WorkMessageType = WorkMessage['type']

/** Side effects, in the order they should be performed. */
export type WorkEffect =
  | { kind: 'publish', msg: WorkMessage }
  | { kind: 'send', to: MemberId, msg: WorkMessage }
  /** Start `run` of a granted task; report with `taskFinished`. */
  | { kind: 'run', jobId: string, workload: string, index: number, input: unknown }
  /** Abort a running task (its lease is gone); do not report it. */
  | { kind: 'abort', jobId: string, index: number }
  /** A job this node coordinates changed status (progress, done, failed). */
  | { kind: 'job', job: JobView }
  /**
   * A job submitted here is held by a replica (or the cluster has no member to
   * hold it): from now on it survives this node's crash. Once per job.
   */
  | { kind: 'held', jobId: string }

export type TaskOutcome = { ok: true, value: unknown } | { ok: false, error: string }
