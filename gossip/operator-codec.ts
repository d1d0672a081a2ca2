/**
 * User events and queries on the work transport (agent/user-events.ts,
 * agent/queries.ts), checked field by field on the way in like the work
 * messages: a refusal names the first bad field, and the transport counts
 * the drop.
 */

export interface WireUserEvent { id: string, name: string, payload: string, ltime: number, coalesce: boolean }

export type OperatorMessage =
  /** topic: a user event, spread to every member. */
  | { type: 'user-event', event: WireUserEvent }
  /** direct: the ids of my recent user events (anti-entropy): answer with what I lack, and ask for what you lack. */
  | { type: 'user-events-ids', ids: string[] }
  /** direct: events the other side lacks, and the ids this side wants. */
  | { type: 'user-events', events: WireUserEvent[], want: string[] }
  /** direct: a query to a member that matched its filters. */
  | { type: 'query', qid: number, name: string, payload: string, ltime: number }
  | { type: 'query-ack', qid: number }
  | { type: 'query-response', qid: number, answer: string }

/** Bounds of what one message may carry (the transport's own message limit is 4 MiB). */
export const OPERATOR_LIMITS = Object.freeze({
  nameChars: 128,
  payloadChars: 64 * 1024,
  ids: 1024,
  events: 256
})

class OperatorMessageError extends Error {}
const fail = (message: string): never => { throw new OperatorMessageError(message) }

function str (o: Record<string, unknown>, key: string, max: number, min = 0): void {
  const v = o[key]
  if (typeof v !== 'string' || v.length < min || v.length > max) fail(`${key} must be a string of ${min}-${max} chars`)
}
function nat (o: Record<string, unknown>, key: string): void {
  const v = o[key]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${key} must be an integer >= 0`)
}
function object (v: unknown, what: string): Record<string, unknown> {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) fail(`${what} must be an object`)
  return v as Record<string, unknown>
}
function ids (o: Record<string, unknown>, key: string): void {
  const v = o[key]
  if (!Array.isArray(v) || v.length > OPERATOR_LIMITS.ids) fail(`${key} must be an array of at most ${OPERATOR_LIMITS.ids}`)
  for (const id of v as unknown[]) if (typeof id !== 'string' || id.length === 0 || id.length > 64) fail(`${key} must hold ids of 1-64 chars`)
}
function event (v: unknown): void {
  const e = object(v, 'event')
  str(e, 'id', 64, 1); str(e, 'name', OPERATOR_LIMITS.nameChars, 1); str(e, 'payload', OPERATOR_LIMITS.payloadChars); nat(e, 'ltime')
  if (typeof e.coalesce !== 'boolean') fail('coalesce must be a boolean')
}

const SHAPES: Record<OperatorMessage['type'], (o: Record<string, unknown>) => void> = {
  'user-event': (o) => { event(o.event) },
  'user-events-ids': (o) => { ids(o, 'ids') },
  'user-events': (o) => {
    if (!Array.isArray(o.events) || o.events.length > OPERATOR_LIMITS.events) fail(`events must be an array of at most ${OPERATOR_LIMITS.events}`)
    for (const e of o.events as unknown[]) event(e)
    ids(o, 'want')
  },
  query: (o) => { nat(o, 'qid'); str(o, 'name', OPERATOR_LIMITS.nameChars, 1); str(o, 'payload', OPERATOR_LIMITS.payloadChars); nat(o, 'ltime') },
  'query-ack': (o) => { nat(o, 'qid') },
  'query-response': (o) => { nat(o, 'qid'); str(o, 'answer', OPERATOR_LIMITS.payloadChars) }
}

export function isOperatorMessageType (type: unknown): type is OperatorMessage['type'] {
  return typeof type === 'string' && Object.hasOwn(SHAPES, type)
}

export function isOperatorMessage<M extends { type: string }> (msg: M | OperatorMessage): msg is OperatorMessage {
  return isOperatorMessageType(msg.type)
}

/** Checks a parsed message of an operator type; returns the problem, or undefined when it is well formed. */
export function operatorMessageProblem (o: Record<string, unknown>): string | undefined {
  try {
    SHAPES[o.type as OperatorMessage['type']](o)
    return undefined
  } catch (err) {
    if (err instanceof OperatorMessageError) return err.message
    throw err
  }
}
