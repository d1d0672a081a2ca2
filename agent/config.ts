/**
 * Agent options: what `createAgent()` takes and what the CLI flags map to.
 * Defaults follow Serf's: gossip on 7946 (TCP) and 7947 (WebSocket) on all
 * interfaces, control API on 127.0.0.1:7373.
 */
import type { LogSink } from './log.ts'
import type { AcceptFrom } from './accept-from.ts'
import { DroppedPeers, isPeerList, MAX_DROPPED_PEERS } from './test-faults.ts'
import { availableParallelism, hostname } from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'
import { PROFILES, type MembershipConfig, type ProfileName } from '../membership/index.ts'
import { PROFILE_NAMES } from '../membership/config.ts'
import type { TransportConfig } from '../gossip/index.ts'
import { fromPartial as workConfig, InvalidWorkConfigError, type WorkConfig } from '../workloads/index.ts'
import { DEFAULT_RPC, InvalidAgentOptionError, parseHostPort } from './rpc-address.ts'
import { checkSecurityOptions, isLoopback } from './security-options.ts'
import { InvalidHandlerError, parseHandler, type HandlerSpec } from './event-handlers.ts'

export { DEFAULT_RPC, InvalidAgentOptionError, parseHostPort }

export interface AgentOptions {
  /** Human-readable node name. Default: the host name. */
  name?: string
  /** Multiaddrs to listen on. Default: TCP 7946 and WebSocket 7947 on all IPv4 interfaces. */
  listen?: string[]
  /** Multiaddrs to announce instead of the listen addresses (NAT, containers). */
  announce?: string[]
  /** Multiaddrs of members to join (with or without /p2p/<id>); retried until one answers. */
  join?: string[]
  /** Control API address `host:port`, or `false` for none. Default 127.0.0.1:7373. */
  rpc?: string | false
  /**
   * Keeps the node key (so the peer id survives restarts), the members (a
   * restarted agent rejoins them) and the services. Default: none, a fresh key each start.
   */
  dataDir?: string
  /** Rejoin the members of the last run (under dataDir) even after a graceful leave. Default false: a leave is final. */
  rejoin?: boolean
  /** Event-handler scripts, `[FILTER=]COMMAND` each (agent/event-handlers.ts). */
  eventHandlers?: string[]
  /** Membership timing profile. Default `lan`. */
  profile?: ProfileName
  /** Per-field overrides of the profile. */
  membership?: Partial<MembershipConfig>
  /** Per-field overrides of the transport config; fill in over the profile's (PROFILE_FOOTPRINT). */
  transport?: Partial<TransportConfig>
  /** libp2p connections kept before pruning. Default: the profile's (1024; edge 64). */
  maxConnections?: number
  /** Free-form key/value labels gossiped with the member (role, zone, …). */
  tags?: Record<string, string>
  /** Seed of the membership core's random generator. Default: random. Tests and simulations set it. */
  randomSeed?: number
  /** Work-claims overrides (workloads/config.ts). `slots` defaults to the CPU count. */
  work?: Partial<WorkConfig>
  /**
   * Registers the `exec` workload: members run shell commands broadcast to them.
   * Default false. Needs `clusterKey` (InvalidAgentOptionError otherwise) unless `allowExecOpen`.
   */
  allowExec?: boolean
  /** Registers `exec` even without a cluster key, where anyone who reaches a gossip port can join and use it. Default false. */
  allowExecOpen?: boolean
  /**
   * Cluster key (gossip/cluster-key.ts): a key file path, or the file's bytes.
   * Only agents with the same key can connect. Default: none, an open cluster.
   */
  clusterKey?: string | Uint8Array
  /** Control API token: a file path, or the token. Required to bind the API off loopback (agent/rpc-token.ts). */
  rpcToken?: string | { token: string }
  /** Where the log's records go (agent/log.ts, log-sinks.ts). Default: warnings and errors, as text lines on stderr. */
  log?: LogSink
  /** Testing hook (agent/accept-from.ts): false drops that peer's messages on arrival, as a cut link would. Default: all accepted. */
  acceptFrom?: AcceptFrom
  /**
   * Testing hook for other processes (agent/test-faults.ts): the control API
   * takes link faults at /v1/test/drop-from. Needs the control API on loopback. Default false.
   */
  testFaults?: boolean
  /** With `testFaults`: the peers dropped from the start, before any command. Default none. */
  testDropFrom?: string[]
}

export interface ResolvedAgentOptions {
  name: string
  listen: string[]
  announce: string[]
  join: string[]
  rpc: { host: string, port: number } | false
  dataDir?: string
  rejoin: boolean
  eventHandlers: HandlerSpec[]
  profile: ProfileName
  membership: Partial<MembershipConfig>
  transport: Partial<TransportConfig>
  /** libp2p connection limit and yamux window: NodeOptions of gossip/libp2p-node.ts. */
  node: { maxConnections?: number, maxStreamWindowBytes?: number }
  tags: Record<string, string>
  randomSeed?: number
  work: WorkConfig
  allowExec: boolean
  clusterKey?: string | Uint8Array
  rpcToken?: string | { token: string }
  log?: LogSink
  acceptFrom?: AcceptFrom
  /** With `testFaults`: the peers the control API told the agent to drop (already part of acceptFrom). */
  droppedPeers?: DroppedPeers
}

/**
 * What a profile sets besides membership timing: transport bounds and libp2p
 * limits. `undefined` fields keep the defaults of gossip/config.ts and gossip/libp2p-node.ts.
 *
 * edge: at most 64 connections (a cluster above 64 members reconnects to the
 * others on demand: a dial, noise and yamux handshake per probe of a pruned
 * member); frames up to 256 KiB (about 1,000 members of a full sync; a larger
 * sync goes in parts), an inbound sync in parts up to 4 MiB and all of them
 * 8 MiB at once (lan 8 and 16 MiB; a full state of 16,384 members is under
 * 4 MiB); per-peer queues of
 * 256 KiB / 128 messages (lan 2 MiB / 1,024: a slow peer drops messages
 * sooner, counted as `backpressure`); yamux stream windows capped at 256 KiB
 * (default 16 MiB) so no stream buffers more than that; one path test per
 * round (lan 4), so silent paths are re-tested more slowly.
 */
export const PROFILE_FOOTPRINT: Readonly<Record<ProfileName, { transport: Partial<TransportConfig>, node: ResolvedAgentOptions['node'] }>> = Object.freeze({
  lan: { transport: {}, node: {} },
  wan: { transport: {}, node: {} },
  local: { transport: {}, node: {} },
  edge: {
    transport: {
      maxMessageBytes: 256 * 1024,
      maxSyncBytes: 4 * 1024 * 1024,
      maxHeldSyncBytes: 8 * 1024 * 1024,
      maxQueuedBytesPerPeer: 256 * 1024,
      maxQueuedMessagesPerPeer: 128,
      maxInboundStreamsPerPeer: 2,
      maxOutboundStreamsPerPeer: 2,
      maxPathChecksPerRound: 1
    },
    node: { maxConnections: 64, maxStreamWindowBytes: 256 * 1024 }
  }
})

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/7946', '/ip4/0.0.0.0/tcp/7947/ws']
const MAX_TAGS = 64
const MAX_TAG_BYTES = 256
const MAX_NAME_BYTES = 256

function checkMultiaddr (what: string, value: string): string {
  try {
    return multiaddr(value).toString()
  } catch (err) {
    throw new InvalidAgentOptionError(`${what}: "${value}" is not a multiaddr (${(err as Error).message})`)
  }
}

function checkTags (tags: Record<string, string>): Record<string, string> {
  const entries = Object.entries(tags)
  if (entries.length > MAX_TAGS) throw new InvalidAgentOptionError(`at most ${MAX_TAGS} tags`)
  for (const [key, value] of entries) {
    if (key === '' || typeof value !== 'string') throw new InvalidAgentOptionError(`tag "${key}" needs a non-empty key and a string value`)
    if (byteLength(key) > MAX_TAG_BYTES || byteLength(value) > MAX_TAG_BYTES) {
      throw new InvalidAgentOptionError(`tag "${key}" is longer than ${MAX_TAG_BYTES} bytes`)
    }
  }
  return { ...tags }
}

function checkWork (work: Partial<WorkConfig>): WorkConfig {
  try {
    return workConfig({ slots: availableParallelism(), ...work })
  } catch (err) {
    if (err instanceof InvalidWorkConfigError) throw new InvalidAgentOptionError(`work: ${err.message}`)
    throw err
  }
}

function byteLength (s: string): number {
  return new TextEncoder().encode(s).byteLength
}

/** Fills defaults and validates; throws InvalidAgentOptionError with the offending option. */
export function resolveOptions (options: AgentOptions = {}): ResolvedAgentOptions {
  const name = options.name ?? hostname()
  if (name === '' || byteLength(name) > MAX_NAME_BYTES) {
    throw new InvalidAgentOptionError(`name must be 1 to ${MAX_NAME_BYTES} bytes`)
  }
  const profile = options.profile ?? 'lan'
  if (!(profile in PROFILES)) throw new InvalidAgentOptionError(`unknown profile "${profile}" (${PROFILE_NAMES.join(', ')})`)
  const listen = (options.listen ?? DEFAULT_LISTEN).map(a => checkMultiaddr('listen', a))
  if (listen.length === 0) throw new InvalidAgentOptionError('at least one listen address is needed')
  const rpcOption = options.rpc ?? DEFAULT_RPC
  const rpc = rpcOption === false ? false : parseHostPort(rpcOption)
  if (options.testFaults === true && (rpc === false || !isLoopback(rpc.host))) {
    throw new InvalidAgentOptionError('testFaults needs the control API on a loopback address: it is for tests on one machine')
  }
  if (options.testDropFrom != null && options.testFaults !== true) throw new InvalidAgentOptionError('testDropFrom needs testFaults')
  if (options.testDropFrom != null && !isPeerList(options.testDropFrom)) {
    throw new InvalidAgentOptionError(`testDropFrom must be a list of up to ${MAX_DROPPED_PEERS} peer ids`)
  }
  const droppedPeers = options.testFaults === true ? new DroppedPeers(options.testDropFrom) : undefined
  const footprint = PROFILE_FOOTPRINT[profile]
  const maxConnections = options.maxConnections ?? footprint.node.maxConnections
  if (maxConnections !== undefined && (!Number.isSafeInteger(maxConnections) || maxConnections < 1)) {
    throw new InvalidAgentOptionError(`maxConnections must be a positive integer, got ${String(maxConnections)}`)
  }
  return {
    name,
    listen,
    announce: (options.announce ?? []).map(a => checkMultiaddr('announce', a)),
    join: (options.join ?? []).map(a => checkMultiaddr('join', a)),
    rpc,
    dataDir: options.dataDir,
    rejoin: options.rejoin === true,
    eventHandlers: parseHandlers(options.eventHandlers ?? []),
    profile,
    membership: options.membership ?? {},
    transport: { ...footprint.transport, ...options.transport },
    node: { ...footprint.node, maxConnections },
    tags: checkTags(options.tags ?? {}),
    randomSeed: options.randomSeed,
    work: checkWork(options.work ?? {}),
    log: options.log,
    acceptFrom: droppedPeers != null ? droppedPeers.acceptFrom(options.acceptFrom) : options.acceptFrom,
    droppedPeers,
    // allowExec, clusterKey, rpcToken: checked together (exec needs a key).
    ...checkSecurityOptions(options, rpc)
  }
}

function parseHandlers (specs: string[]): HandlerSpec[] {
  try {
    return specs.map(parseHandler)
  } catch (err) {
    if (err instanceof InvalidHandlerError) throw new InvalidAgentOptionError(err.message)
    throw err
  }
}
