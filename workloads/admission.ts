/**
 * What a job must pass before it starts: a known workload, an input that is
 * JSON within maxInputBytes and that the workload's `validate` accepts, a
 * split of at most maxTasksPerJob tasks, a deadline in range. A refused job
 * starts nothing and says why.
 */
import type { WorkConfig } from './config.ts'
import { newTask } from './job.ts'
import type { JobKind, JobOptions, MemberId, Peer, TaskRecord, WorkloadRegistry } from './types.ts'

/** Submit refused: unknown workload, malformed or oversized input, bad split or options. Nothing was started. */
export class JobRejectedError extends Error {
  override name = 'JobRejectedError'
}

/** Longest deadline a job may set: 30 days. */
export const MAX_DEADLINE_MS = 30 * 24 * 3600 * 1000

export interface Admitted {
  kind: JobKind
  input: unknown
  tasks: TaskRecord[]
  deadlineMs: number | null
}

const encoder = new TextEncoder()

function message (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * Checks a submission and builds its tasks. `members` are the candidates of
 * a broadcast (alive members, this node included). Throws JobRejectedError.
 */
export function admit (registry: WorkloadRegistry, config: WorkConfig, name: string, rawInput: unknown, options: JobOptions, members: readonly Peer[]): Admitted {
  const deadlineMs = options.deadlineMs ?? null
  if (deadlineMs != null && (!Number.isSafeInteger(deadlineMs) || deadlineMs < 1 || deadlineMs > MAX_DEADLINE_MS)) {
    throw new JobRejectedError(`deadlineMs must be an integer in [1, ${MAX_DEADLINE_MS}]`)
  }
  const workload = registry.get(name)
  if (workload == null) {
    const known = [...registry.keys()].sort().join(', ')
    throw new JobRejectedError(`unknown workload "${name}" (known: ${known})`)
  }
  let json: string | undefined
  try {
    json = JSON.stringify(rawInput ?? null)
  } catch (err) {
    throw new JobRejectedError(`input of ${name} is not JSON: ${message(err)}`)
  }
  const bytes = encoder.encode(json).length
  if (bytes > config.maxInputBytes) {
    throw new JobRejectedError(`input of ${name} is ${bytes} bytes, over the limit of ${config.maxInputBytes}`)
  }
  let input: unknown
  try {
    input = workload.validate(JSON.parse(json))
  } catch (err) {
    throw new JobRejectedError(`invalid input for ${name}: ${message(err)}`)
  }
  if (workload.kind === 'broadcast') return { kind: 'broadcast', input, tasks: broadcastTasks(input, members), deadlineMs }
  if (workload.split == null) throw new JobRejectedError(`workload ${name} has no split`)
  let inputs: unknown[]
  try {
    inputs = workload.split(input)
  } catch (err) {
    throw new JobRejectedError(`cannot split input for ${name}: ${message(err)}`)
  }
  if (!Array.isArray(inputs)) throw new JobRejectedError(`split of ${name} did not return an array`)
  if (inputs.length > config.maxTasksPerJob) {
    throw new JobRejectedError(`${name} splits into ${inputs.length} tasks, over the limit of ${config.maxTasksPerJob}`)
  }
  return { kind: 'map', input, tasks: inputs.map((taskInput, index) => newTask(index, taskInput)), deadlineMs }
}

/** One task per member matching `input.tags`, in member-name order. */
function broadcastTasks (input: unknown, members: readonly Peer[]): TaskRecord[] {
  const filter = (input != null && typeof input === 'object' && 'tags' in input && input.tags != null && typeof input.tags === 'object')
    ? input.tags as Record<string, unknown>
    : {}
  const targets: Peer[] = members
    .filter(p => Object.entries(filter).every(([k, v]) => p.tags[k] === v))
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : (a.id < b.id ? -1 : 1))
  return targets.map((p, index): TaskRecord & { target: MemberId } => ({ ...newTask(index, input), target: p.id }))
}
