/**
 * The `agent` command line: a thin layer over createAgent() (run mode) and
 * over the control API (every other subcommand).
 */
import { InvalidAgentOptionError } from './rpc-address.ts'
import { callApi } from './api-client.ts'
import { job, jobs, submit, workloads } from './jobs-cli.ts'
import { UsageError, parse } from './cli-args.ts'
import { formatMembers } from './format.ts'
import type { HealthView, MemberView } from './member-view.ts'
import { keygen } from './keygen-cli.ts'
import { service, services } from './services-cli.ts'
import { event, forceLeave, query } from './operator-cli.ts'
import { runAgent } from './run-cli.ts'
import { monitor } from './monitor-cli.ts'
import { closestCommand, COMMANDS, usageOf, USAGE, type CommandName } from './cli-usage.ts'
import { VERSION } from './version.ts'
import type { AgentStats } from './agent.ts'
import { SWIM_PROTOCOL, WORK_PROTOCOL } from '../gossip/protocols.ts'

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
      case 'monitor': return await monitor(rest)
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
