/**
 * The work-claims wire format: JSON, validated on the way in. A message that
 * is not valid JSON, not an object of a known type or has a field of the
 * wrong shape is refused with WireError (the transport counts the drop); the
 * core only ever sees well-formed WorkMessages.
 *
 * Besides the core's messages the agent answers two lookups of its own on the
 * direct channel (`job-query` → `job-info`), so that `agent job ID` works on
 * any node.
 */
import { SNAPSHOT_TASK_STATES, type JobView, type WorkMessage } from '../workloads/types.ts'
import { checkDepth as checkValueDepth, ValueBoundError } from '../workloads/limits.ts'
import { InvalidServiceError } from '../services/index.ts'
import { isServiceMessageType, validateServiceMessage, type ServiceWireMessage } from './service-codec.ts'
import { isOperatorMessageType, operatorMessageProblem, type OperatorMessage } from './operator-codec.ts'

/** A lookup between agents: not part of the core. */
export type LookupMessage =
  /** direct: which jobs (one id, or all when `jobId` is absent) do you hold? */
  | { type: 'job-query', qid: number, jobId?: string }
  /** direct: the answer to job-query `qid`. */
  | { type: 'job-info', qid: number, jobs: JobView[] }

/** Everything on the work transport: the work core's messages, the lookups, and the services' (service-codec.ts), user events and queries (operator-codec.ts). */
export type WireMessage = WorkMessage | LookupMessage | ServiceWireMessage | OperatorMessage

export class WireError extends Error {
  override name = 'WireError'
}

const decoder = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()

/** Longest job id, member id, workload name, error text: bounds what one message may make us store. */
const MAX_ID_CHARS = 128
const MAX_TEXT_CHARS = 64 * 1024
/** Task indices or records in one message. */
const MAX_LIST = 100_000

export function encodeWire (msg: WireMessage): Uint8Array {
  return encoder.encode(JSON.stringify(msg))
}

/** Parses and validates one message; throws WireError. */
export function decodeWire (bytes: Uint8Array): WireMessage {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch (err) {
    throw new WireError(`not JSON: ${(err as Error).message}`)
  }
  return validateWire(value)
}

type Check = (o: Record<string, unknown>) => void

const id = (key: string, optional = false): Check => (o) => {
  const v = o[key]
  if (optional && v === undefined) return
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ID_CHARS) throw new WireError(`${key} must be a string of 1-${MAX_ID_CHARS} chars`)
}
const text = (key: string, optional = false): Check => (o) => {
  const v = o[key]
  if (optional && v === undefined) return
  if (typeof v !== 'string' || v.length > MAX_TEXT_CHARS) throw new WireError(`${key} must be a string of at most ${MAX_TEXT_CHARS} chars`)
}
const nat = (key: string): Check => (o) => {
  const v = o[key]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new WireError(`${key} must be an integer >= 0`)
}
const bool = (key: string): Check => (o) => {
  if (typeof o[key] !== 'boolean') throw new WireError(`${key} must be a boolean`)
}
const oneOf = (key: string, values: readonly string[]): Check => (o) => {
  if (!values.includes(o[key] as string)) throw new WireError(`${key} must be one of ${values.join(', ')}`)
}
const list = (key: string, item: (v: unknown) => void): Check => (o) => {
  const v = o[key]
  if (!Array.isArray(v) || v.length > MAX_LIST) throw new WireError(`${key} must be an array of at most ${MAX_LIST}`)
  for (const x of v) item(x)
}
const record = (key: string, optional = false): Check => (o) => {
  const v = o[key]
  if (optional && v === undefined) return
  if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new WireError(`${key} must be an object`)
}
const nullableText = (key: string): Check => (o) => {
  if (o[key] !== null) text(key)(o)
}

/** A task input, result or job result within workloads/limits.ts' nesting bound. */
function depth (value: unknown, what: string): void {
  try {
    checkValueDepth(value, what)
  } catch (err) {
    if (err instanceof ValueBoundError) throw new WireError(err.message)
    throw err
  }
}
const json = (key: string): Check => (o) => { depth(o[key], key) }

function object (v: unknown, what: string): Record<string, unknown> {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new WireError(`${what} must be an object`)
  return v as Record<string, unknown>
}
function index (v: unknown): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new WireError('task indices must be integers >= 0')
}
function memberId (v: unknown): void {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ID_CHARS) throw new WireError('member ids must be strings')
}
const STATUSES = ['running', 'done', 'failed', 'cancelled'] as const
const KINDS = ['map', 'broadcast'] as const
/** Tasks a job may have on the wire; the coordinator's own limit (WorkConfig.maxTasksPerJob) is lower. */
const MAX_TASKS = 10_000_000

const nullableNat = (key: string): Check => (o) => {
  if (o[key] !== null) nat(key)(o)
}

/** A field newer agents send and older ones leave out. */
const optional = (key: string, check: (key: string) => Check): Check => (o) => {
  if (o[key] !== undefined) check(key)(o)
}

function offeredTask (v: unknown): void {
  const t = object(v, 'offered task')
  nat('index')(t); nat('round')(t); id('target', true)(t)
}
function grantedTask (v: unknown): void {
  const t = object(v, 'granted task')
  nat('index')(t)
  if (!('input' in t)) throw new WireError('granted task without input')
  json('input')(t)
}
function taskRecord (v: unknown): void {
  const t = object(v, 'task record')
  nat('index')(t); nat('grants')(t); nat('errors')(t); nat('round')(t)
  oneOf('state', SNAPSHOT_TASK_STATES)(t)
  id('target', true)(t); id('holder', true)(t); id('producer', true)(t)
  text('doneBy', true)(t); text('lastError', true)(t)
  json('input')(t); json('value')(t)
}
function snapshotHeader (v: unknown): void {
  const h = object(v, 'snapshot header')
  id('workload')(h); oneOf('kind', KINDS)(h); oneOf('status', STATUSES)(h)
  nullableText('error')(h); nat('ignored')(h); nat('duplicates')(h)
  json('input')(h); json('result')(h)
  nat('taskCount')(h); nullableNat('deadlineMs')(h); nullableNat('remainingMs')(h)
  optional('createdAt', nullableNat)(h); optional('ageMs', nat)(h)
  if ((h.taskCount as number) > MAX_TASKS) throw new WireError(`taskCount must be at most ${MAX_TASKS}`)
}
/** A packed task (workloads/types.ts PackedTask) whose table indexes point into this message's tables. */
function packedTask (members: number, names: number): (v: unknown) => void {
  const ref = (v: unknown, size: number, what: string): void => {
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < -1 || v >= size)) throw new WireError(`packed task ${what} must index its table or be -1`)
  }
  return (v) => {
    if (!Array.isArray(v) || v.length < 8 || v.length > 12) throw new WireError('a packed task must be an array of 8-12 fields')
    for (let i = 0; i < 5; i++) index(v[i])
    if ((v[1] as number) >= SNAPSHOT_TASK_STATES.length) throw new WireError('packed task state out of range')
    ref(v[5], members, 'holder'); ref(v[6], members, 'producer'); ref(v[7], names, 'doneBy'); ref(v[10], members, 'target')
    if (v[9] != null && (typeof v[9] !== 'string' || v[9].length > MAX_TEXT_CHARS)) throw new WireError('packed task lastError must be a string')
    depth(v[8], 'packed task value'); depth(v[11], 'packed task input')
  }
}
const snapshotShape: Check[] = [
  id('jobId'), nat('epoch'), id('coordinator'), nat('seq'), list('replicas', memberId), nat('part'), bool('last'),
  (o) => {
    if ((o.part === 0) !== (o.header !== undefined)) throw new WireError('the header comes with part 0 and only with it')
    if (o.header !== undefined) snapshotHeader(o.header)
  },
  list('members', memberId), list('names', (v) => { if (typeof v !== 'string' || v.length > MAX_TEXT_CHARS) throw new WireError('names must be strings') }),
  (o) => { list('tasks', packedTask((o.members as unknown[]).length, (o.names as unknown[]).length))(o) }
]
function jobView (v: unknown): void {
  const j = object(v, 'job')
  id('id')(j); id('workload')(j); oneOf('kind', KINDS)(j); oneOf('status', STATUSES)(j)
  nullableText('error')(j); id('coordinator')(j); nat('epoch')(j); json('result')(j); nullableNat('deadlineMs')(j)
  optional('createdAt', nullableText)(j); optional('durationMs', nullableNat)(j)
  const stats = object(j.stats, 'job stats')
  for (const key of ['tasks', 'rerun', 'done', 'ignored', 'duplicates']) nat(key)(stats)
  record('perNode')(stats)
}

const jobEpoch: Check[] = [id('jobId'), nat('epoch')]
const taskList: Check = list('tasks', index)

const SHAPES: Record<(WorkMessage | LookupMessage)['type'], Check[]> = {
  offer: [...jobEpoch, id('coordinator'), list('replicas', memberId), id('workload'), oneOf('kind', KINDS), list('tasks', offeredTask)],
  claim: [...jobEpoch, id('coordinator'), taskList],
  grant: [...jobEpoch, id('workload'), list('tasks', grantedTask)],
  deny: [...jobEpoch, taskList],
  renew: [...jobEpoch, taskList],
  revoke: [...jobEpoch, taskList],
  release: [...jobEpoch, taskList],
  result: [...jobEpoch, nat('index'), bool('ok'), text('error', true), json('value')],
  'result-ack': [...jobEpoch, nat('index'), bool('counted')],
  held: [...jobEpoch],
  snapshot: snapshotShape,
  replicate: [
    ...jobEpoch, id('coordinator'), nat('seq'), list('replicas', memberId),
    list('tasks', taskRecord), oneOf('status', STATUSES), nullableText('error'), nat('ignored'), nat('duplicates'), json('result')
  ],
  cancel: [id('jobId')],
  resync: [...jobEpoch],
  takeover: [...jobEpoch, id('coordinator')],
  'job-end': [(o) => { jobView(o.job) }],
  capacity: [nat('free'), nat('slots')],
  'job-query': [nat('qid'), id('jobId', true)],
  'job-info': [nat('qid'), list('jobs', jobView)]
}

/** Validates a parsed JSON value as a wire message; throws WireError naming the first bad field. */
export function validateWire (value: unknown): WireMessage {
  const o = object(value, 'message')
  if (isServiceMessageType(o.type)) {
    try {
      return validateServiceMessage(o)
    } catch (err) {
      if (err instanceof InvalidServiceError) throw new WireError(err.message)
      throw err
    }
  }
  if (isOperatorMessageType(o.type)) {
    const problem = operatorMessageProblem(o)
    if (problem != null) throw new WireError(problem)
    return o as unknown as OperatorMessage
  }
  const checks = typeof o.type === 'string' && Object.hasOwn(SHAPES, o.type) ? SHAPES[o.type as keyof typeof SHAPES] : undefined
  if (checks == null) throw new WireError(`unknown message type ${JSON.stringify(o.type)?.slice(0, 40)}`)
  for (const check of checks) check(o)
  return o as unknown as WireMessage
}
