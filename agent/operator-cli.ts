/**
 * `agent event`, `agent query` and `agent force-leave`: clients of
 * POST /v1/event, /v1/query and /v1/force-leave (operator-api.ts); a query's
 * acks and answers are printed as they arrive.
 */
import { readFile } from 'node:fs/promises'
import { callApi } from './api-client.ts'
import { parse, parsePairs, UsageError } from './cli-args.ts'
import { parseDuration } from './jobs-cli.ts'
import type { QueryProgress, QueryResult } from './operator.ts'

const RPC_FLAGS = { rpc: { type: 'string' }, 'rpc-token': { type: 'string' } } as const

/** PAYLOAD, or @FILE for a file's contents. */
async function payloadOf (value: string | undefined): Promise<string> {
  if (value == null) return ''
  if (!value.startsWith('@')) return value
  try {
    return await readFile(value.slice(1), 'utf8')
  } catch (err) {
    throw new UsageError(`${value}: ${(err as Error).message}`)
  }
}

/** `agent event NAME [PAYLOAD|@FILE] [--coalesce]` */
export async function event (args: string[]): Promise<number> {
  const flags = parse(args, { ...RPC_FLAGS, coalesce: { type: 'boolean' } }, true)
  const [name, payload, extra] = flags._
  if (name == null || extra != null) throw new UsageError('event needs a NAME and at most one PAYLOAD (or @FILE)')
  const sent = await callApi({ rpc: flags.rpc, tokenFile: flags['rpc-token'] }, 'POST', '/v1/event', { name, payload: await payloadOf(payload), coalesce: flags.coalesce === true }) as { id: string, ltime: number }
  console.log(`event ${name} sent (id ${sent.id}, ltime ${sent.ltime})`)
  return 0
}

/** `agent query NAME [PAYLOAD|@FILE] [--node NAME]... [--tag K=REGEX]... [--timeout DURATION] [--json]` */
export async function query (args: string[]): Promise<number> {
  const flags = parse(args, { ...RPC_FLAGS, node: { type: 'string', multiple: true }, tag: { type: 'string', multiple: true }, timeout: { type: 'string' }, json: { type: 'boolean' } }, true)
  const [name, payload, extra] = flags._
  if (name == null || extra != null) throw new UsageError('query needs a NAME and at most one PAYLOAD (or @FILE)')
  const tags = parsePairs(flags.tag ?? [], '--tag', 'REGEX')
  const timeoutMs = flags.timeout != null ? parseDuration(flags.timeout, '--timeout') : undefined
  if (timeoutMs === 0) throw new UsageError('--timeout must be more than 0')
  const json = flags.json === true
  const body = { name, payload: await payloadOf(payload), nodes: flags.node, tags, timeoutMs }
  const onLine = (line: unknown): void => {
    const p = line as QueryProgress | { type: 'done' }
    if (json || p.type === 'done') return
    console.log(p.type === 'ack' ? `ack from ${p.member}` : `response from ${p.member}: ${p.answer.replace(/\n$/, '')}`)
  }
  const done = await callApi({ rpc: flags.rpc, tokenFile: flags['rpc-token'] }, 'POST', '/v1/query', body, onLine, (timeoutMs ?? 5 * 60_000) + 10_000) as QueryResult
  const { acks, responses, missing } = done
  if (json) console.log(JSON.stringify({ acks, responses, missing }, null, 2))
  else console.log(`${acks.length} acks, ${Object.keys(responses).length} responses${missing.length > 0 ? `; no answer from ${missing.join(', ')}` : ''}`)
  return 0
}

/** `agent force-leave NAME` */
export async function forceLeave (args: string[]): Promise<number> {
  const flags = parse(args, RPC_FLAGS, true)
  const [name, extra] = flags._
  if (name == null || extra != null) throw new UsageError('force-leave needs one member NAME (or peer id)')
  const { members } = await callApi({ rpc: flags.rpc, tokenFile: flags['rpc-token'] }, 'POST', '/v1/force-leave', { name }) as { members: Array<{ name: string, peerId: string }> }
  for (const m of members) console.log(`${m.name} (${m.peerId}) is now left; others that hold it failed follow by gossip`)
  return 0
}
