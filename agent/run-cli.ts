/**
 * `agent [run]`: runs an agent in the foreground until SIGTERM or SIGINT
 * (a graceful leave; a second signal exits at once). Its log goes to stdout
 * as JSON lines or readable lines (log-sinks.ts), and with --metrics-addr its
 * Prometheus metrics are served on a listener of their own (metrics.ts).
 */
import type { ParseArgsConfig } from 'node:util'
import type { AgentOptions } from './config.ts'
import { formatHost, parseHostPort } from './rpc-address.ts'
import { UsageError, parse, parsePairs } from './cli-args.ts'
import type { ProfileName } from '../membership/index.ts'
import { usageOf } from './cli-usage.ts'
import { isLogLevel, LOG_LEVELS } from './log.ts'
import { createSink, defaultLogFormat, isLogFormat } from './log-sinks.ts'
import { releaseCompilersWhenBusy } from './compiler-release.ts'
import { trimMemoryWhenIdle } from './memory-trim.ts'

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
  'log-format': { type: 'string' },
  'log-level': { type: 'string' },
  'metrics-addr': { type: 'string' },
  'test-faults': { type: 'boolean' },
  'test-drop-from': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' }
}

function parseSlots (value: string): number {
  const slots = Number(value)
  if (!/^\d+$/.test(value) || slots < 1 || slots > 1024) throw new UsageError(`--slots expects an integer from 1 to 1024, got "${value}"`)
  return slots
}

export async function runAgent (args: string[]): Promise<number> {
  const flags = parse(args, RUN_FLAGS)
  if (flags.help === true) { console.log(usageOf('run')); return 0 }
  const format = flags['log-format'] ?? defaultLogFormat()
  if (!isLogFormat(format)) throw new UsageError(`--log-format expects json or text, got "${String(format)}"`)
  const level = flags['log-level'] ?? 'info'
  if (!isLogLevel(level)) throw new UsageError(`--log-level expects one of ${LOG_LEVELS.join(', ')}, got "${String(level)}"`)
  const metricsAddr = flags['metrics-addr'] != null ? parseHostPort(flags['metrics-addr'] as string) : undefined
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
    rpcToken: flags['rpc-token'],
    testFaults: flags['test-faults'] === true,
    testDropFrom: flags['test-drop-from'],
    log: await createSink(format, level)
  }
  // Loaded here, not at the top: the client subcommands should not pay for loading libp2p (nor pino: log-sinks.ts loads it only for JSON).
  const { createAgent } = await import('./agent.ts')
  const agent = createAgent(options)
  await agent.start()
  // The `agent` binary holds V8's optimizing compilers off while idle (agent/optimizing-compilers.js).
  const stopBusyWatch = releaseCompilersWhenBusy()
  agent.addEventListener('stopped', stopBusyWatch, { once: true })
  // ... and gives back what the start (later, a job) left in memory once idle (agent/memory-trim.ts).
  let joined = false
  agent.on('member:join', () => { joined = true })
  const stopIdleTrim = trimMemoryWhenIdle({ viewQuiet: () => { const quiet = !joined; joined = false; return quiet } })
  agent.addEventListener('stopped', stopIdleTrim, { once: true })
  const log = agent.log
  const control = agent.rpcAddress != null ? `http://${formatHost(agent.rpcAddress.host)}:${agent.rpcAddress.port}` : undefined
  log.info(`agent ${agent.options.name} started`, {
    event: 'agent:started', member: agent.options.name, peerId: agent.peerId, listen: agent.multiaddrs, control, profile: agent.options.profile, joining: agent.options.join
  })
  if (metricsAddr != null) {
    const { serveMetrics } = await import('./metrics.ts')
    const bound = await serveMetrics(agent, metricsAddr)
    agent.addEventListener('stopped', () => { bound.close() }, { once: true })
    log.info(`metrics on http://${formatHost(bound.host)}:${bound.port}/metrics`)
  }

  return await new Promise<number>(resolve => {
    let signalled = false
    const onSignal = (signal: string): void => {
      if (signalled) { log.info(`${signal} again: exiting now`); resolve(1); return }
      signalled = true
      log.info(`${signal}: leaving the cluster`)
      agent.leave().catch(err => { log.error(`leave failed: ${(err as Error).message}`) })
    }
    process.on('SIGTERM', () => { onSignal('SIGTERM') })
    process.on('SIGINT', () => { onSignal('SIGINT') })
    agent.addEventListener('stopped', () => { log.info('agent stopped'); resolve(0) }, { once: true })
  })
}
