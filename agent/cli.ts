/**
 * The `agent` command line: a thin layer over createAgent() (run mode) and
 * over the control API (every other subcommand).
 */
import type { ParseArgsConfig } from 'node:util'
import type { AgentOptions } from './config.ts'
import { formatHost, InvalidAgentOptionError } from './rpc-address.ts'
import { callApi } from './api-client.ts'
import { job, jobs, submit, workloads } from './jobs-cli.ts'
import { UsageError, parse, parsePairs } from './cli-args.ts'
import { formatMembers } from './format.ts'
import { CLUSTER_EVENT_TYPES, MEMBER_EVENT_TYPES, type HealthView, type MemberView } from './member-view.ts'
import type { ProfileName } from '../membership/index.ts'
import { keygen } from './keygen-cli.ts'
import { service, services } from './services-cli.ts'
import { event, forceLeave, query } from './operator-cli.ts'
import { closestCommand, COMMANDS, usageOf, USAGE, type CommandName } from './cli-usage.ts'
import { VERSION } from './version.ts'
import type { AgentStats } from './agent.ts'
import { SWIM_PROTOCOL, WORK_PROTOCOL } from '../gossip/protocols.ts'

const RUN_FLAGS: ParseArgsConfig['options'] = {
  join: { type: 'string', multiple: true },
  listen: { type: 'string', multiple: true },
  announce: { type: 'string', multiple: true },
  name: { type: 'string' },
  rpc: { type: 'string' },
  'data-dir': { type: 'string' },
  rejoin: { type: 'boolean' },
  'event-handler': { type: 'string', multiple: true },
  profile: { type: 'string' },
  tag: { type: 'string', multiple: true },
  'no-rpc': { type: 'boolean' },
  slots: { type: 'string' },
  'allow-exec': { type: 'boolean' },
  'allow-exec-open': { type: 'boolean' },
  'cluster-key': { type: 'string' },
  'rpc-token': { type: 'string' },
  help: { type: 'boolean', short: 'h' }
}

function parseSlots (value: string): number {
  const slots = Number(value)
  if (!/^\d+$/.test(value) || slots < 1 || slots > 1024) throw new UsageError(`--slots expects an integer from 1 to 1024, got "${value}"`)
  return slots
}

async function runAgent (args: string[]): Promise<number> {
  const flags = parse(args, RUN_FLAGS)
  if (flags.help === true) { console.log(usageOf('run')); return 0 }
  const options: AgentOptions = {
    name: flags.name,
    listen: flags.listen,
    announce: flags.announce,
    join: flags.join,
    rpc: flags['no-rpc'] === true ? false : flags.rpc,
    dataDir: flags['data-dir'],
    rejoin: flags.rejoin === true,
    eventHandlers: flags['event-handler'],
    profile: flags.profile as ProfileName | undefined,
    tags: parsePairs(flags.tag ?? [], '--tag'),
    work: flags.slots != null ? { slots: parseSlots(flags.slots) } : undefined,
    allowExec: flags['allow-exec'] === true,
    allowExecOpen: flags['allow-exec-open'] === true,
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
  // Names are labels (the peer id is the identity), but people read results by name.
  agent.on('member:join', m => {
    if (m.name === self.name && m.peerId !== agent.peerId) {
      console.error(`agent: warning: member ${m.peerId} is also named "${m.name}"; job results name each ${m.name}@<last 8 of its peer id>. Give every agent its own --name.`)
    }
  })
  // Every failed attempt is retried; printing the 1st, 2nd, 4th, 8th… keeps a long wait readable.
  let joinFailures = 0
  agent.on('join:failed', e => {
    joinFailures++
    if ((joinFailures & (joinFailures - 1)) === 0) console.error(`join: ${e.error} (attempt ${joinFailures}), retrying in ${formatSeconds(e.retryInMs)}`)
  })
  agent.on('join:done', e => {
    joinFailures = 0
    console.log(`${new Date().toISOString()} joined the cluster through ${e.via}`)
  })

  for (const type of ['service:started', 'service:stopped', 'service:moved', 'service:failed'] as const) {
    agent.on(type, e => {
      console.log(`${new Date().toISOString()} ${type} ${e.instance} epoch ${e.epoch}${e.from != null ? ` from ${e.from}` : ''}${e.reason != null ? `: ${e.reason}` : ''}`)
    })
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

function formatSeconds (ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 100) / 10} s`
}

async function members (args: string[]): Promise<number> {
  const flags = parse(args, { rpc: { type: 'string' }, json: { type: 'boolean' }, wide: { type: 'boolean' }, all: { type: 'boolean' }, 'rpc-token': { type: 'string' } })
  const list = await callApi({ rpc: flags.rpc, tokenFile: flags['rpc-token'] }, 'GET', '/v1/members') as MemberView[]
  console.log(flags.json === true ? JSON.stringify(list, null, 2) : formatMembers(list, { wide: flags.wide === true, all: flags.all === true }))
  return 0
}

/** `agent info`: this agent, and whether it is in the cluster (GET /v1/self and /v1/health). */
async function info (args: string[]): Promise<number> {
  const flags = parse(args, { rpc: { type: 'string' }, json: { type: 'boolean' }, 'rpc-token': { type: 'string' } })
  const target = { rpc: flags.rpc, tokenFile: flags['rpc-token'] }
  const self = await callApi(target, 'GET', '/v1/self') as MemberView
  const health = await callApi(target, 'GET', '/v1/health') as HealthView
  const stats = await callApi(target, 'GET', '/v1/stats') as AgentStats
  const protocol = { agent: VERSION, swim: SWIM_PROTOCOL, work: WORK_PROTOCOL }
  const local = { healthScore: stats.membership.localHealth, ltime: stats.userEvents.ltime, handlers: stats.handlers, workQueues: stats.work.slots }
  if (flags.json === true) {
    console.log(JSON.stringify({ self, health, protocol, ...local }, null, 2))
    return 0
  }
  const counts = Object.entries(health.members).map(([status, n]) => `${n} ${status}`).join(', ')
  console.log([
    `name:     ${self.name}`,
    `peer id:  ${self.peerId}`,
    `status:   ${self.status} (incarnation ${self.incarnation})`,
    `addrs:    ${self.addrs.join(', ') || '-'}`,
    `joined:   ${health.joined ? 'yes' : `no${health.joinError != null ? `, last attempt: ${health.joinError}` : ''}`}`,
    `members:  ${counts}; side ${health.side} (${health.componentSize} of ${health.stableSize} stable)`,
    `health:   ${local.healthScore} (Lifeguard local health; 0 is healthy)`,
    `events:   Lamport time ${local.ltime}; handlers ${local.handlers.ran} ran, ${local.handlers.failed} failed, ${local.handlers.queued} queued`,
    `tasks:    ${local.workQueues.running} of ${local.workQueues.total} slots busy, ${local.workQueues.waiting} waiting`,
    `protocol: agent ${VERSION}, ${SWIM_PROTOCOL}, ${WORK_PROTOCOL}`
  ].join('\n'))
  return 0
}

async function leave (args: string[]): Promise<number> {
  const flags = parse(args, { rpc: { type: 'string' }, 'rpc-token': { type: 'string' } })
  await callApi({ rpc: flags.rpc, tokenFile: flags['rpc-token'] }, 'POST', '/v1/leave')
  console.log('leaving the cluster')
  return 0
}

function isCommand (word: string): word is CommandName {
  return (COMMANDS as string[]).includes(word)
}

export async function main (argv: string[]): Promise<number> {
  const [first, ...rest] = argv
  // A first word that is not a flag names a subcommand; no subcommand runs the agent.
  const command: CommandName = first == null || first.startsWith('-') ? 'run' : isCommand(first) ? first : 'help'
  try {
    if (first === '--version' || first === '-V') { console.log(VERSION); return 0 }
    if (first === '--help' || first === '-h') { console.log(USAGE); return 0 }
    if (command === 'help') {
      if (first !== 'help') {
        const closest = closestCommand(first)
        throw new UsageError(`unknown command "${first}"${closest != null ? `; did you mean "${closest}"?` : ''}`)
      }
      console.log(rest[0] != null && isCommand(rest[0]) ? usageOf(rest[0]) : USAGE)
      return 0
    }
    if (command !== 'run' && (rest.includes('--help') || rest.includes('-h'))) { console.log(usageOf(command)); return 0 }
    switch (command) {
      case 'members': return await members(rest)
      case 'info': return await info(rest)
      case 'leave': return await leave(rest)
      case 'force-leave': return await forceLeave(rest)
      case 'submit': return await submit(rest)
      case 'jobs': return await jobs(rest)
      case 'job': return await job(rest)
      case 'workloads': return await workloads(rest)
      case 'service': return await service(rest)
      case 'services': return await services(rest)
      case 'event': return await event(rest)
      case 'query': return await query(rest)
      case 'keygen': return await keygen(rest, why => new UsageError(why))
      case 'run': return await runAgent(argv)
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof InvalidAgentOptionError) {
      // One line and where to look, not the whole usage (`agent help` prints it).
      const hint = command === 'run' || command === 'help' ? 'agent help' : `agent ${command} --help`
      console.error(`agent: ${err.message}\nRun \`${hint}\` for usage.`)
      return 2
    }
    console.error(`agent: ${(err as Error).message}`)
    return 1
  }
}
