/**
 * The control API's user-event and query endpoints:
 * - `POST /v1/event` `{ name, payload?, coalesce? }` → `{ id, name, ltime }`;
 * - `POST /v1/query` `{ name, payload?, nodes?, tags?, timeoutMs? }` → a
 *   stream of JSON lines as answers arrive (`{ type: 'ack', member }`,
 *   `{ type: 'response', member, answer }`), ended by
 *   `{ type: 'done', acks, responses, missing }`;
 * - `POST /v1/force-leave` `{ name }` → `{ members }`, the failed members of
 *   that name (or peer id) retired (force-leave.ts).
 */
import type { ServerResponse } from 'node:http'
import type { Agent } from './agent.ts'
import { HttpError, parseJsonBody } from './http-error.ts'
import { InvalidQueryError, InvalidUserEventError, type QueryRequest } from './operator.ts'
import { ForceLeaveError } from './force-leave.ts'

/** A payload is at most 64 KiB: the body may hold it JSON-escaped. */
export const MAX_OPERATOR_BODY_BYTES = 512 * 1024

function parseBody (body: string): Record<string, unknown> {
  const parsed = parseJsonBody(body)
  if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'body must be a JSON object')
  return parsed as Record<string, unknown>
}

export function fireEvent (agent: Agent, body: string): unknown {
  const { name, payload, coalesce } = parseBody(body)
  if (typeof name !== 'string') throw new HttpError(400, '"name" must be a string')
  if (payload != null && typeof payload !== 'string') throw new HttpError(400, '"payload" must be a string')
  try {
    return agent.userEvent(name, payload ?? '', { coalesce: coalesce === true })
  } catch (err) {
    if (err instanceof InvalidUserEventError) throw new HttpError(400, err.message)
    throw err
  }
}

export async function runQuery (agent: Agent, body: string, res: ServerResponse): Promise<void> {
  const o = parseBody(body)
  const nodes = o.nodes
  const tags = o.tags
  if (nodes != null && (!Array.isArray(nodes) || !nodes.every(n => typeof n === 'string'))) throw new HttpError(400, '"nodes" must be an array of member names')
  if (tags != null && (typeof tags !== 'object' || Array.isArray(tags) || !Object.values(tags).every(v => typeof v === 'string'))) throw new HttpError(400, '"tags" must be an object of regular expressions')
  if (o.timeoutMs != null && typeof o.timeoutMs !== 'number') throw new HttpError(400, '"timeoutMs" must be a number')
  const req = { name: o.name, payload: o.payload, nodes, tags, timeoutMs: o.timeoutMs } as QueryRequest
  const write = (line: unknown): void => { res.write(JSON.stringify(line) + '\n') }
  let started = false
  try {
    const result = await agent.queries.run(req, progress => {
      if (!started) { started = true; res.writeHead(200, { 'content-type': 'application/x-ndjson' }) }
      write(progress)
    })
    if (!started) res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    write({ type: 'done', ...result })
    res.end()
  } catch (err) {
    if (err instanceof InvalidQueryError) throw new HttpError(400, err.message)
    throw err
  }
}

export function forceLeave (agent: Agent, body: string): unknown {
  const { name } = parseBody(body)
  if (typeof name !== 'string' || name === '') throw new HttpError(400, '"name" must be a member\'s name or peer id')
  try {
    return { members: agent.forceLeave(name) }
  } catch (err) {
    if (err instanceof ForceLeaveError) throw new HttpError(err.status, err.message)
    throw err
  }
}
