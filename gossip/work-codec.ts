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
import type { JobView, WorkMessage } from '../workloads/types.ts'

/** A lookup between agents: not part of the core. */
export type LookupMessage =
  /** direct: which jobs (one id, or all when `jobId` is absent) do you hold? */
  | { type: 'job-query', qid: number, jobId?: string }
  /** direct: the answer to job-query `qid`. */
  | { type: 'job-info', qid: number, jobs: JobView[] }

export type WireMessage = WorkMessage | LookupMessage

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
/**
 * Nesting of a task input, result or job result. No workload needs more; a
 * deeper value is refused on arrival, before anything stores it or encodes it
 * again (JSON.stringify overflows the stack on a value nested ~10,000 deep,
 * and every lookup that returned it would fail).
 */
export const MAX_JSON_DEPTH = 32
/** Largest task result a worker sends, as JSON: several fit in one message, and a job's result is built from them. */
export const MAX_RESULT_BYTES = 1024 * 1024

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

/** Throws WireError if `value` nests deeper than MAX_JSON_DEPTH. */
export function checkDepth (value: unknown, what: string, depth = 0): void {
  if (value == null || typeof value !== 'object') return
  if (depth >= MAX_JSON_DEPTH) throw new WireError(`${what} nests deeper than ${MAX_JSON_DEPTH} levels`)
  for (const v of Array.isArray(value) ? value : Object.values(value)) checkDepth(v, what, depth + 1)
}

/**
 * Why a task result this node produced cannot be sent (too deep, too large,
 * not JSON), or undefined when it can: the worker reports such a result as a
 * failed run instead of losing it to a dropped message.
 */
export function unsendableResult (value: unknown): string | undefined {
  try {
    checkDepth(value, 'the result')
    const bytes = encoder.encode(JSON.stringify(value ?? null)).byteLength
    if (bytes > MAX_RESULT_BYTES) return `the result is ${bytes} bytes as JSON, over the limit of ${MAX_RESULT_BYTES}`
    return undefined
  } catch (err) {
    return err instanceof WireError ? err.message : `the result is not JSON: ${(err as Error).message}`
  }
}

const json = (key: string): Check => (o) => { checkDepth(o[key], key) }

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
const STATUSES = ['running', 'done', 'failed'] as const
const KINDS = ['map', 'broadcast'] as const
const TASK_STATES = ['pending', 'leased', 'done', 'skipped'] as const

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
  oneOf('state', TASK_STATES)(t)
  id('target', true)(t); id('holder', true)(t); id('producer', true)(t)
  text('doneBy', true)(t); text('lastError', true)(t)
  json('input')(t); json('value')(t)
}
function snapshot (v: unknown): void {
  const s = object(v, 'snapshot')
  id('id')(s); id('workload')(s); oneOf('kind', KINDS)(s); oneOf('status', STATUSES)(s)
  nullableText('error')(s); nat('ignored')(s); nat('duplicates')(s)
  json('input')(s); json('result')(s)
  list('tasks', taskRecord)(s)
}
function jobView (v: unknown): void {
  const j = object(v, 'job')
  id('id')(j); id('workload')(j); oneOf('kind', KINDS)(j); oneOf('status', STATUSES)(j)
  nullableText('error')(j); id('coordinator')(j); nat('epoch')(j); json('result')(j)
  const stats = object(j.stats, 'job stats')
  for (const key of ['tasks', 'rerun', 'done', 'ignored', 'duplicates']) nat(key)(stats)
  record('perNode')(stats)
}

const jobEpoch: Check[] = [id('jobId'), nat('epoch')]
const taskList: Check = list('tasks', index)

const SHAPES: Record<WireMessage['type'], Check[]> = {
  offer: [...jobEpoch, id('coordinator'), list('replicas', memberId), id('workload'), oneOf('kind', KINDS), list('tasks', offeredTask)],
  claim: [...jobEpoch, id('coordinator'), taskList],
  grant: [...jobEpoch, id('workload'), list('tasks', grantedTask)],
  deny: [...jobEpoch, taskList],
  renew: [...jobEpoch, taskList],
  revoke: [...jobEpoch, taskList],
  release: [...jobEpoch, taskList],
  result: [...jobEpoch, nat('index'), bool('ok'), text('error', true), json('value')],
  'result-ack': [...jobEpoch, nat('index'), bool('counted')],
  replicate: [
    ...jobEpoch, id('coordinator'), nat('seq'), list('replicas', memberId), bool('full'),
    (o) => { if (o.snapshot !== undefined) snapshot(o.snapshot) },
    (o) => { if (o.full === true && o.snapshot === undefined) throw new WireError('full replicate without snapshot') },
    list('tasks', taskRecord), oneOf('status', STATUSES), nullableText('error'), nat('ignored'), nat('duplicates'), json('result')
  ],
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
  const checks = typeof o.type === 'string' && Object.hasOwn(SHAPES, o.type) ? SHAPES[o.type as WireMessage['type']] : undefined
  if (checks == null) throw new WireError(`unknown message type ${JSON.stringify(o.type)?.slice(0, 40)}`)
  for (const check of checks) check(o)
  return o as unknown as WireMessage
}
