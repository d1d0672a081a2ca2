/**
 * The `agent` command line: a thin layer over createAgent() (run mode) and
 * over the control API (every other subcommand).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { AgentOptions } from './config.ts'
import { DEFAULT_RPC, InvalidAgentOptionError, parseHostPort } from './rpc-address.ts'
import { formatMembers } from './format.ts'
import { CLUSTER_EVENT_TYPES, MEMBER_EVENT_TYPES, type MemberView } from './member-view.ts'
import type { ProfileName } from '../membership/index.ts'
import { KEYGEN_USAGE, keygen } from './keygen-cli.ts'
import { loadRpcToken } from './rpc-token.ts'

const USAGE = `Usage:
  agent [--join ADDR]... [--listen ADDR]... [--name NAME] [--rpc HOST:PORT]
        [--data-dir DIR] [--profile lan|wan|local|edge] [--tag K=V]... [--announce ADDR]...
        [--cluster-key FILE] [--rpc-token FILE]
      Run an agent in the foreground. SIGTERM or SIGINT leaves the cluster gracefully.
  agent members [--rpc HOST:PORT] [--json]   Show the members this agent knows.
  agent leave [--rpc HOST:PORT]              Make the agent leave gracefully and exit.
      (both take --rpc-token FILE when the agent has a token)
${KEYGEN_USAGE}
  agent help                                 This text.

  ADDR is a multiaddr, e.g. /ip4/10.0.0.5/tcp/7946 or /ip4/10.0.0.5/tcp/7947/ws/p2p/12D3Koo…
  Defaults: listen /ip4/0.0.0.0/tcp/7946 and /ip4/0.0.0.0/tcp/7947/ws, rpc ${DEFAULT_RPC}, profile lan.`

class UsageError extends Error {
  override name = 'UsageError'
}

const RUN_FLAGS: ParseArgsConfig['options'] = {
  join: { type: 'string', multiple: true },
  listen: { type: 'string', multiple: true },
  announce: { type: 'string', multiple: true },
  name: { type: 'string' },
  rpc: { type: 'string' },
  'data-dir': { type: 'string' },
  profile: { type: 'string' },
  tag: { type: 'string', multiple: true },
  'no-rpc': { type: 'boolean' },
  'cluster-key': { type: 'string' },
  'rpc-token': { type: 'string' },
  help: { type: 'boolean', short: 'h' }
}

function parse (args: string[], options: ParseArgsConfig['options']): Record<string, any> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

function parseTags (pairs: string[] = []): Record<string, string> {
  const tags: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new UsageError(`--tag expects KEY=VALUE, got "${pair}"`)
    tags[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return tags
}

async function runAgent (args: string[]): Promise<number> {
  const flags = parse(args, RUN_FLAGS)
  if (flags.help === true) { console.log(USAGE); return 0 }
  const options: AgentOptions = {
    name: flags.name,
    listen: flags.listen,
    announce: flags.announce,
    join: flags.join,
    rpc: flags['no-rpc'] === true ? false : flags.rpc,
    dataDir: flags['data-dir'],
    profile: flags.profile as ProfileName | undefined,
    tags: parseTags(flags.tag),
    clusterKey: flags['cluster-key'],
    rpcToken: flags['rpc-token']
  }
  // Loaded here, not at the top: the client subcommands should not pay for loading libp2p.
  const { createAgent } = await import('./agent.ts')
  const agent = createAgent(options)
  await agent.start()
  const self = agent.self()
  console.log(`agent ${self.name} started`)
  console.log(`  peer id:  ${agent.peerId}`)
  for (const addr of agent.multiaddrs) console.log(`  listen:   ${addr}`)
  if (agent.rpcAddress != null) console.log(`  control:  http://${formatHost(agent.rpcAddress.host)}:${agent.rpcAddress.port}`)
  console.log(`  profile:  ${agent.options.profile}${agent.options.join.length > 0 ? `, joining ${agent.options.join.join(', ')}` : ''}`)

  for (const type of MEMBER_EVENT_TYPES) {
    agent.on(type, m => { console.log(`${new Date().toISOString()} ${type} ${m.name} ${m.peerId} ${m.status}${m.cause != null ? ` (${m.cause})` : ''}`) })
  }
  for (const type of CLUSTER_EVENT_TYPES) {
    agent.on(type, e => {
      console.log(`${new Date().toISOString()} ${type} side ${e.side} (${e.componentSize} of ${e.stableSize} stable) members ${e.members.length > 0 ? e.members.join(',') : '-'}`)
    })
  }

  return await new Promise<number>(resolve => {
    let signalled = false
    const onSignal = (signal: string): void => {
      if (signalled) { console.log(`${signal} again: exiting now`); resolve(1); return }
      signalled = true
      console.log(`${signal}: leaving the cluster`)
      agent.leave().catch(err => { console.error(`leave failed: ${(err as Error).message}`) })
    }
    process.on('SIGTERM', () => { onSignal('SIGTERM') })
    process.on('SIGINT', () => { onSignal('SIGINT') })
    agent.addEventListener('stopped', () => { console.log('agent stopped'); resolve(0) }, { once: true })
  })
}

function formatHost (host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

async function callApi (rpc: string | undefined, method: string, path: string, tokenFile?: string): Promise<unknown> {
  const { host, port } = parseHostPort(rpc ?? DEFAULT_RPC)
  const url = `http://${formatHost(host)}:${port}${path}`
  const headers: Record<string, string> = tokenFile != null ? { authorization: `Bearer ${await loadRpcToken(tokenFile)}` } : {}
  let res: Response
  try {
    res = await fetch(url, { method, headers, signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    throw new Error(`cannot reach the control API at ${host}:${port} (is the agent running?): ${((err as Error).cause as Error)?.message ?? (err as Error).message}`)
  }
  const body = await res.json().catch(() => undefined) as any
  if (!res.ok) throw new Error(`control API answered ${res.status}: ${body?.error ?? res.statusText}`)
  return body
}

async function members (args: string[]): Promise<number> {
  const flags = parse(args, { rpc: { type: 'string' }, json: { type: 'boolean' }, 'rpc-token': { type: 'string' } })
  const list = await callApi(flags.rpc, 'GET', '/v1/members', flags['rpc-token']) as MemberView[]
  console.log(flags.json === true ? JSON.stringify(list, null, 2) : formatMembers(list))
  return 0
}

async function leave (args: string[]): Promise<number> {
  const flags = parse(args, { rpc: { type: 'string' }, 'rpc-token': { type: 'string' } })
  await callApi(flags.rpc, 'POST', '/v1/leave', flags['rpc-token'])
  console.log('leaving the cluster')
  return 0
}

export async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'members': return await members(rest)
      case 'leave': return await leave(rest)
      case 'keygen': return await keygen(rest, why => new UsageError(why))
      case 'help': case '--help': case '-h': console.log(USAGE); return 0
      default: return await runAgent(argv)
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof InvalidAgentOptionError) {
      console.error(`agent: ${err.message}\n\n${USAGE}`)
      return 2
    }
    console.error(`agent: ${(err as Error).message}`)
    return 1
  }
}
