/**
 * The services' messages on the work transport (services/types.ts
 * ServiceMessage), checked field by field on the way in like the work
 * messages (work-codec.ts). Definitions inside a registry exchange go through
 * the same parser as the control API's (services/definition.ts), so a member
 * cannot spread a definition the API would refuse.
 */
import { InvalidServiceError, parseDefinition, SERVICE_LIMITS, SERVICE_NAME, type ServiceMessage } from '../services/index.ts'

/** An instance's output line, as `agent service logs` shows it (agent/service-logs.ts). */
export interface WireLogLine { at: string, stream: 'stdout' | 'stderr', line: string }

/**
 * The agent's own lookup beside the core's messages (direct): the output a
 * member kept of a service's instances, for `agent service logs` on any member.
 */
export type ServiceLogsMessage =
  | { type: 'service-logs-query', qid: number, service: string }
  | { type: 'service-logs', qid: number, lines: WireLogLine[] }

export type ServiceWireMessage = ServiceMessage | ServiceLogsMessage

/** Lines one answer carries (the newest), each cut to LOG_LINE_CHARS: an answer stays far under the transport's message limit. */
export const LOG_ANSWER_LINES = 1000
export const LOG_LINE_CHARS = 2048

const STATES = ['starting', 'running', 'stopping', 'failed']
/** Member ids, instance ids, digests. */
const MAX_ID_CHARS = 200

const fail = (message: string): never => { throw new InvalidServiceError(message) }

function object (v: unknown, what: string): Record<string, unknown> {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) fail(`${what} must be an object`)
  return v as Record<string, unknown>
}
function nat (o: Record<string, unknown>, key: string): void {
  const v = o[key]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${key} must be an integer >= 0`)
}
function bool (o: Record<string, unknown>, key: string): void {
  if (typeof o[key] !== 'boolean') fail(`${key} must be a boolean`)
}
function id (o: Record<string, unknown>, key: string, optional = false): void {
  const v = o[key]
  if (optional && v === undefined) return
  if (typeof v !== 'string' || v.length > MAX_ID_CHARS || (v.length === 0 && key !== 'digest')) fail(`${key} must be a string of at most ${MAX_ID_CHARS} chars`)
}
function name (o: Record<string, unknown>, key: string): void {
  const v = o[key]
  if (typeof v !== 'string' || v.length > SERVICE_LIMITS.nameChars || !SERVICE_NAME.test(v)) fail(`${key} must be a service name`)
}
function list (o: Record<string, unknown>, key: string, max: number, item: (v: unknown) => void): void {
  const v = o[key]
  if (!Array.isArray(v) || v.length > max) fail(`${key} must be an array of at most ${max}`)
  for (const x of v as unknown[]) item(x)
}
const names = (v: unknown): void => { name({ v }, 'v') }

function instance (v: unknown): void {
  const i = object(v, 'instance')
  name(i, 'service'); id(i, 'instance'); nat(i, 'epoch'); nat(i, 'since'); nat(i, 'restarts')
  if (!STATES.includes(i.state as string)) fail(`state must be one of ${STATES.join(', ')}`)
  if (i.pid !== null) nat(i, 'pid')
}

function entry (v: unknown): void {
  const e = object(v, 'registry entry')
  name(e, 'name')
  const version = object(e.version, 'version')
  nat(version, 'clock'); id(version, 'writer')
  if (e.definition === null) return
  e.definition = parseDefinition(e.definition)
  if ((e.definition as { name: string }).name !== e.name) fail('a definition must have its entry\'s name')
}

function logLine (v: unknown): void {
  const l = object(v, 'log line')
  if (typeof l.at !== 'string' || l.at.length > 40) fail('at must be a time')
  if (l.stream !== 'stdout' && l.stream !== 'stderr') fail('stream must be stdout or stderr')
  if (typeof l.line !== 'string' || l.line.length > LOG_LINE_CHARS) fail(`line must be a string of at most ${LOG_LINE_CHARS} chars`)
}

const SHAPES: Record<ServiceWireMessage['type'], (o: Record<string, unknown>) => void> = {
  'service-state': (o) => {
    nat(o, 'seq'); id(o, 'digest'); bool(o, 'exec')
    if (typeof o.load !== 'number' || !Number.isFinite(o.load) || o.load < 0 || o.load > 1e6) fail('load must be a number from 0 to 1e6')
    list(o, 'handlers', SERVICE_LIMITS.services, names); list(o, 'blocked', SERVICE_LIMITS.services, names)
    list(o, 'instances', SERVICE_LIMITS.services, instance)
  },
  'service-defs': (o) => { list(o, 'entries', SERVICE_LIMITS.services, entry); bool(o, 'reply') },
  'service-lease': (o) => { name(o, 'service'); nat(o, 'epoch'); nat(o, 'round') },
  'service-lease-reply': (o) => {
    name(o, 'service'); nat(o, 'epoch'); nat(o, 'round'); bool(o, 'granted'); nat(o, 'maxEpoch'); id(o, 'holder', true)
    if (o.retryInMs !== undefined && (typeof o.retryInMs !== 'number' || !Number.isFinite(o.retryInMs) || o.retryInMs < 0 || o.retryInMs > 3_600_000)) fail('retryInMs must be a number of milliseconds')
  },
  'service-release': (o) => { name(o, 'service'); nat(o, 'epoch') },
  'service-logs-query': (o) => { nat(o, 'qid'); name(o, 'service') },
  'service-logs': (o) => { nat(o, 'qid'); list(o, 'lines', LOG_ANSWER_LINES, logLine) }
}

export function isServiceMessageType (type: unknown): type is ServiceWireMessage['type'] {
  return typeof type === 'string' && Object.hasOwn(SHAPES, type)
}

/** Whether a decoded wire message is one of the services' (the core's, or the logs lookup). */
export function isServiceMessage<M extends { type: string }> (msg: M | ServiceWireMessage): msg is ServiceWireMessage {
  return isServiceMessageType(msg.type)
}

/** Checks a parsed message of a service type; throws InvalidServiceError naming the first bad field. */
export function validateServiceMessage (o: Record<string, unknown>): ServiceWireMessage {
  SHAPES[o.type as ServiceWireMessage['type']](o)
  return o as unknown as ServiceWireMessage
}
