/**
 * `agent service add|rm|logs` and `agent services`: clients of the control
 * API's service endpoints (services-api.ts).
 */
import { callApi, type ApiTarget } from './api-client.ts'
import { parse, parsePairs, UsageError } from './cli-args.ts'
import { alignTable } from './format.ts'
import type { ServiceView } from '../services/index.ts'
import type { MemberLogLine } from './service-logs-lookup.ts'

const RPC_FLAGS = { rpc: { type: 'string' }, 'rpc-token': { type: 'string' } } as const

function target (flags: Record<string, any>): ApiTarget {
  return { rpc: flags.rpc, tokenFile: flags['rpc-token'] }
}

/** `agent service add NAME (--singleton | --replicas N) [...] -- COMMAND [ARGS...]` → the definition, and the API to send it to. */
export function definitionFromArgs (args: string[]): { definition: Record<string, unknown>, api: ApiTarget } {
  const dash = args.indexOf('--')
  const command = dash >= 0 ? args.slice(dash + 1) : []
  const flags = parse(dash >= 0 ? args.slice(0, dash) : args, {
    ...RPC_FLAGS,
    singleton: { type: 'boolean' },
    replicas: { type: 'string' },
    tag: { type: 'string', multiple: true },
    env: { type: 'string', multiple: true },
    'check-http': { type: 'string' },
    'check-tcp': { type: 'string' },
    'check-interval': { type: 'string' },
    'stop-grace': { type: 'string' }
  }, true)
  const [name, ...extra] = flags._
  if (name == null) throw new UsageError('service add needs a NAME')
  if (extra.length > 0) throw new UsageError(`unexpected "${extra[0]}": put the command after --`)
  if ((flags.singleton === true) === (flags.replicas != null)) throw new UsageError('give exactly one of --singleton or --replicas N')
  if (command.length === 0) throw new UsageError('no command: put it after --, e.g. agent service add web --replicas 2 -- python3 -m http.server')
  if (flags['check-http'] != null && flags['check-tcp'] != null) throw new UsageError('give at most one of --check-http and --check-tcp')
  const definition: Record<string, unknown> = { name, mode: flags.singleton === true ? 'singleton' : 'replicated', command }
  if (flags.replicas != null) {
    if (!/^\d+$/.test(flags.replicas)) throw new UsageError(`--replicas expects a whole number, got "${flags.replicas}"`)
    definition.replicas = Number(flags.replicas)
  }
  definition.tags = flags.tag != null ? parsePairs(flags.tag, '--tag') : undefined
  definition.env = flags.env != null ? parsePairs(flags.env, '--env') : undefined
  const checkTarget = flags['check-http'] != null ? { http: flags['check-http'] } : flags['check-tcp'] != null ? { tcp: flags['check-tcp'] } : undefined
  if (checkTarget != null) definition.check = { ...checkTarget, ...(flags['check-interval'] != null ? { intervalMs: milliseconds(flags['check-interval'], '--check-interval') } : {}) }
  if (flags['stop-grace'] != null) definition.stopGraceMs = milliseconds(flags['stop-grace'], '--stop-grace')
  return { definition, api: target(flags) }
}

function milliseconds (value: string, flag: string): number {
  const match = /^(\d+)(ms|s)?$/.exec(value)
  if (match == null) throw new UsageError(`${flag} expects milliseconds or seconds (e.g. 500ms, 2s), got "${value}"`)
  return Number(match[1]) * (match[2] === 's' ? 1000 : 1)
}

/** `agent service add|rm|logs ...` */
export async function service (args: string[]): Promise<number> {
  const [sub, ...rest] = args
  if (sub === 'add') {
    const { definition, api } = definitionFromArgs(rest)
    const answer = await callApi(api, 'POST', '/v1/services', definition) as { name: string, version: number }
    console.log(`service ${answer.name} defined (version ${answer.version})`)
    return 0
  }
  if (sub === 'rm') {
    const flags = parse(rest, RPC_FLAGS, true)
    if (flags._.length !== 1) throw new UsageError('service rm needs exactly one NAME')
    await callApi(target(flags), 'DELETE', `/v1/services/${encodeURIComponent(flags._[0])}`)
    console.log(`service ${flags._[0]} removed`)
    return 0
  }
  if (sub === 'logs') {
    const flags = parse(rest, { ...RPC_FLAGS, follow: { type: 'boolean', short: 'f' } }, true)
    if (flags._.length !== 1) throw new UsageError('service logs needs exactly one NAME')
    return await logs(target(flags), flags._[0], flags.follow === true)
  }
  throw new UsageError(sub == null ? 'service needs add, rm or logs' : `unknown service subcommand "${sub}" (add, rm, logs)`)
}

/** Prints the service's lines from every member that runs it; with --follow, polls for new ones until interrupted. */
async function logs (api: ApiTarget, name: string, follow: boolean): Promise<number> {
  const shown = new Set<string>()
  for (;;) {
    const lines = await callApi(api, 'GET', `/v1/services/${encodeURIComponent(name)}/logs`) as MemberLogLine[]
    for (const l of lines) {
      const key = `${l.at} ${l.member} ${l.stream} ${l.line}`
      if (shown.has(key)) continue
      shown.add(key)
      process.stdout.write(`${key}\n`)
    }
    if (!follow) return 0
    // what the members still keep is all that can show up again
    for (const key of shown) if (shown.size > 4 * lines.length + 1000) shown.delete(key)
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}

/** `agent services [--json]` */
export async function services (args: string[]): Promise<number> {
  const flags = parse(args, { ...RPC_FLAGS, json: { type: 'boolean' } })
  const list = await callApi(target(flags), 'GET', '/v1/services') as ServiceView[]
  if (flags.json === true) {
    console.log(JSON.stringify(list, null, 2))
    return 0
  }
  if (list.length === 0) {
    console.log('no services (agent service add NAME --singleton -- COMMAND defines one)')
    return 0
  }
  console.log(formatServices(list))
  return 0
}

export function formatServices (list: ServiceView[]): string {
  const rows = [['NAME', 'MODE', 'WANT', 'STATUS', 'INSTANCES']]
  for (const s of list) {
    const instances = s.instances.map(i => `${i.member}:${i.state}(epoch ${i.epoch}${i.pid != null ? `, pid ${i.pid}` : ''})`).join(' ')
    rows.push([s.name, s.mode, String(s.replicas), s.status, instances || '-'])
  }
  const notes = list.flatMap(s => s.status === 'placed' ? [] : s.ineligible.map(x => `  ${s.name}: ${x.member} is not eligible: ${x.reason}`))
  return alignTable(rows) + (notes.length > 0 ? `\n${notes.join('\n')}` : '')
}
