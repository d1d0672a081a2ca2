/**
 * Whole-job snapshots for replicas, in parts. A job of a million tasks must
 * survive its coordinator's crash, so its record cannot travel in one
 * message: a map job's tasks are split again on the replica from the job's
 * input, and the snapshot carries only the records that changed since (done,
 * leased, failed runs), packed as arrays with member and name tables, in
 * parts of about SNAPSHOT_PART_BYTES, made and sent one at a time. Parts and
 * deltas go to one replica on one ordered stream; a gap makes the replica ask
 * for the snapshot again.
 */
import { newJob, newTask, untouched, type Job } from './job.ts'
import { SNAPSHOT_TASK_STATES, type MemberId, type PackedTask, type SnapshotHeader, type TaskRecord, type WorkMessage, type WorkloadRegistry } from './types.ts'

/** Target size of one part as JSON: well under the work transport's message limit, with room for one large result. */
export const SNAPSHOT_PART_BYTES = 1024 * 1024

export type SnapshotMessage = Extract<WorkMessage, { type: 'snapshot' }>

/** Position of the target in a packed task (the one optional field whose "unset" is -1). */
const TARGET = 10

/** Interns strings into a table, for the packed records' indexes. */
class Table {
  readonly list: string[] = []
  readonly #index = new Map<string, number>()
  of (value: string | undefined): number {
    if (value == null) return -1
    let i = this.#index.get(value)
    if (i == null) {
      i = this.list.length
      this.list.push(value)
      this.#index.set(value, i)
    }
    return i
  }
}

function pack (task: TaskRecord, kind: Job['kind'], members: Table, names: Table): PackedTask {
  const packed: unknown[] = [
    task.index, SNAPSHOT_TASK_STATES.indexOf(task.state), task.grants, task.errors, task.round,
    members.of(task.holder), members.of(task.producer), names.of(task.doneBy),
    task.value ?? null, task.lastError ?? null, members.of(task.target),
    // a map task's input is split again on the replica; a broadcast task's is the job's
    kind === 'broadcast' ? task.input : null
  ]
  const unset = (i: number): boolean => i === TARGET ? packed[i] === -1 : packed[i] === null
  while (packed.length > 8 && unset(packed.length - 1)) packed.pop()
  return packed
}

/** Roughly the JSON size of a packed task, without encoding it (numbers and short strings are most of it). */
function sizeOf (packed: PackedTask): number {
  let size = 2
  for (const v of packed) {
    size += 1 + (typeof v === 'number' ? String(v).length : typeof v === 'string' ? v.length + 2 : v == null ? 4 : JSON.stringify(v).length)
  }
  return size
}

/**
 * Part `part` of the snapshot of `job` for one replica: the records from
 * task index `from` on, up to about SNAPSHOT_PART_BYTES; `next` is where the
 * next part starts (null: this was the last). Parts are made one at a time as
 * they are sent, so a big job's snapshot never holds the event loop for long;
 * each carries the seq of the last delta sent before it, and the replica
 * applies deltas between parts (a later part packs a record as new as any
 * delta sent before it).
 */
export function snapshotPart (job: Job, now: number, part: number, from: number): { msg: SnapshotMessage, next: number | null } {
  const members = new Table()
  const names = new Table()
  const tasks: PackedTask[] = []
  const header: SnapshotHeader | undefined = part > 0
    ? undefined
    : {
        workload: job.workload,
        kind: job.kind,
        input: job.input,
        status: job.status,
        result: job.result,
        error: job.error,
        ignored: job.ignored,
        duplicates: job.duplicates,
        taskCount: job.tasks.length,
        deadlineMs: job.deadlineMs,
        remainingMs: Number.isFinite(job.deadlineAt) ? Math.max(0, job.deadlineAt - now) : null,
        createdAt: job.createdAt,
        ageMs: Math.max(0, Math.round(now - job.startedAt))
      }
  let bytes = header != null ? JSON.stringify(header).length : 0
  let i = from
  for (; i < job.tasks.length; i++) {
    const task = job.tasks[i]
    if (job.kind === 'map' && untouched(task)) continue
    const packed = pack(task, job.kind, members, names)
    bytes += sizeOf(packed)
    tasks.push(packed)
    if (bytes >= SNAPSHOT_PART_BYTES) { i++; break }
  }
  const last = i >= job.tasks.length
  return {
    msg: {
      type: 'snapshot',
      jobId: job.id,
      coordinator: job.coordinator,
      epoch: job.epoch,
      seq: job.seq,
      replicas: job.replicas,
      part,
      last,
      ...(header != null ? { header } : {}),
      members: members.list,
      names: names.list,
      tasks
    },
    next: last ? null : i
  }
}

/** The whole snapshot at once (tests, and small jobs). */
export function snapshotParts (job: Job, now: number): SnapshotMessage[] {
  const out: SnapshotMessage[] = []
  let from: number | null = 0
  while (from != null) {
    const { msg, next } = snapshotPart(job, now, out.length, from)
    out.push(msg)
    from = next
  }
  return out
}

/**
 * A replica's record from part 0 of a snapshot sent by `from`. A map job's
 * tasks are split again from the header's input; without its workload here
 * the record is kept but marked `unusable` (a takeover then fails the job
 * with that reason instead of running tasks it cannot know).
 */
export function startReplica (msg: SnapshotMessage & { header: SnapshotHeader }, from: MemberId, registry: WorkloadRegistry, now: number): Job {
  const h = msg.header
  let tasks: TaskRecord[] = Array.from({ length: h.taskCount }, (_, i) => newTask(i, null))
  let unusable: string | undefined
  if (h.kind === 'map') {
    const split = registry.get(h.workload)?.split
    try {
      if (split == null) throw new Error(`workload ${h.workload} is not registered on this node`)
      const inputs = split(h.input)
      if (inputs.length !== h.taskCount) throw new Error(`split gives ${inputs.length} tasks here, ${h.taskCount} on the coordinator`)
      tasks = inputs.map((input, i) => newTask(i, input))
    } catch (err) {
      unusable = err instanceof Error ? err.message : String(err)
    }
  }
  const job = newJob({
    role: 'replica',
    id: msg.jobId,
    workload: h.workload,
    kind: h.kind,
    input: h.input,
    coordinator: from,
    epoch: msg.epoch,
    replicas: msg.replicas,
    tasks,
    deadlineMs: h.deadlineMs,
    deadlineAt: h.remainingMs != null ? now + h.remainingMs : Infinity,
    createdAt: h.createdAt ?? null,
    startedAt: now - (h.ageMs ?? 0),
    heartbeatAt: Infinity,
    heardAt: now
  })
  Object.assign(job, { status: h.status, result: h.result, error: h.error, ignored: h.ignored, duplicates: h.duplicates, seq: msg.seq })
  if (unusable != null) job.unusable = unusable
  if (!msg.last) job.assembling = { next: 1 }
  applyPart(job, msg)
  return job
}

/** Unpacks one part's records into the replica's tasks (the codec checked their shape). */
export function applyPart (job: Job, msg: SnapshotMessage): void {
  const member = (i: unknown): string | undefined => typeof i === 'number' && i >= 0 ? msg.members[i] : undefined
  for (const p of msg.tasks) {
    const index = p[0] as number
    const old = job.tasks[index]
    if (old == null) continue
    const task: TaskRecord = {
      index,
      input: p[11] ?? old.input,
      state: SNAPSHOT_TASK_STATES[p[1] as number],
      grants: p[2] as number,
      errors: p[3] as number,
      round: p[4] as number
    }
    const holder = member(p[5])
    const producer = member(p[6])
    const doneBy = typeof p[7] === 'number' && p[7] >= 0 ? msg.names[p[7]] : undefined
    const target = member(p[10])
    if (holder != null) task.holder = holder
    if (producer != null) task.producer = producer
    if (doneBy != null) task.doneBy = doneBy
    if (task.state === 'done') task.value = p[8] ?? null
    if (typeof p[9] === 'string') task.lastError = p[9]
    if (target != null) task.target = target
    job.tasks[index] = task
  }
}
