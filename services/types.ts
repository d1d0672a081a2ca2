/**
 * The services core's vocabulary: definitions, the replicated registry, the
 * instance reports members gossip, the messages between members, and the
 * effects the core asks its driver to carry out.
 */
import type { MemberId, Side } from '../membership/types.ts'

export type { MemberId }

export type ServiceMode = 'singleton' | 'replicated'

/** A health check of a running instance: exactly one of `http`, `tcp`, `command`. */
export interface ServiceCheck {
  http?: string
  /** `HOST:PORT`. */
  tcp?: string
  /** argv, no shell; exit 0 is healthy. */
  command?: string[]
  intervalMs: number
  timeoutMs: number
  /** Failed checks in a row before the instance is restarted. */
  failuresBeforeRestart: number
}

export interface ServiceDefinition {
  name: string
  mode: ServiceMode
  /** Instances wanted: 1 for a singleton. */
  replicas: number
  /** argv of a process (needs `--allow-exec` on the member); absent: an in-process service the embedding program registers. */
  command?: string[]
  env: Record<string, string>
  /** Only members whose tags include all of these may run it. */
  tags: Record<string, string>
  check?: ServiceCheck
  /** Backoff between restarts of a failing instance: doubles from initialMs up to maxMs. */
  restart: { initialMs: number, maxMs: number }
  /** SIGTERM, then SIGKILL after this long. */
  stopGraceMs: number
}

/**
 * A registry entry's version: a Lamport clock, ties broken by the writer's
 * member id. The higher version wins everywhere (last writer wins), so
 * concurrent updates of one service converge to one version.
 */
export interface Version {
  clock: number
  writer: MemberId
}

/** One service in the registry; `definition: null` is a removal (a tombstone, kept so that the removal wins over older copies). */
export interface RegistryEntry {
  name: string
  version: Version
  definition: ServiceDefinition | null
}

export type InstanceState = 'starting' | 'running' | 'stopping' | 'failed'

/** An instance as its member reports it. */
export interface InstanceReport {
  service: string
  /** Unique per start: `<service>/<epoch>/<member id suffix>`. */
  instance: string
  /** The fencing epoch of this start (AGENT_SERVICE_EPOCH). */
  epoch: number
  state: InstanceState
  pid: number | null
  /** Wall-clock ms of the last state change (the agent's, for display). */
  since: number
  restarts: number
}

/** What a member tells everyone about itself (topic): its capabilities, load and instances. */
export interface MemberServiceState {
  /** Grows with every report of one member (a restarted member starts above its old reports: the agent seeds it from the wall clock). */
  seq: number
  /** Hash of the member's registry versions: a different digest starts a registry exchange. */
  digest: string
  /** The member runs commands (`--allow-exec`). */
  exec: boolean
  /** In-process services the member's program registered. */
  handlers: string[]
  /** Services this member gave up on (an instance that kept failing here): not eligible until the block expires. */
  blocked: string[]
  /** Instances here (any service), busy task slots and CPU load per core: placement prefers lightly loaded members. */
  load: number
  instances: InstanceReport[]
}

export type ServiceMessage =
  /** topic: a member's state, on change and every stateRefreshMs while it has services. */
  | ({ type: 'service-state' } & MemberServiceState)
  /** topic (a local change) or direct (a registry exchange; `reply`: answer with yours if it differs). */
  | { type: 'service-defs', entries: RegistryEntry[], reply: boolean }
  /** direct: grant me (or renew) the lease of singleton `service` at `epoch`; `round` matches the answer. */
  | { type: 'service-lease', service: string, epoch: number, round: number }
  /** direct: the answer; `maxEpoch` is the highest epoch the granter knows, `holder` whom it promised the lease to when it refuses. */
  | { type: 'service-lease-reply', service: string, epoch: number, round: number, granted: boolean, maxEpoch: number, holder?: MemberId, retryInMs?: number }
  /** direct: the holder stopped: the granter may forget its promise. */
  | { type: 'service-release', service: string, epoch: number }

/** A member as the services core sees it. */
export interface ServicePeer {
  id: MemberId
  name: string
  /** Alive or suspect: still counted as running what it reports. */
  alive: boolean
  /** Left the cluster (not a voter for leases any more). */
  left: boolean
  tags: Record<string, string>
}

export type ServiceEventType = 'service:started' | 'service:stopped' | 'service:moved' | 'service:failed'

export type ServiceEffect =
  | { kind: 'publish', msg: ServiceMessage }
  | { kind: 'send', to: MemberId, msg: ServiceMessage }
  /** Start an instance here. `until`: core time by which it must be dead unless extended (singletons), null for none. */
  | { kind: 'start', service: string, instance: string, epoch: number, definition: ServiceDefinition, until: number | null }
  /** A singleton's lease was renewed: move its hard deadline. */
  | { kind: 'extend', instance: string, until: number }
  /** Stop an instance here (SIGTERM, then SIGKILL after the definition's stopGraceMs). */
  | { kind: 'stop', instance: string, reason: string }
  /** The registry or the epochs changed: store them (under --data-dir). */
  | { kind: 'persist', state: PersistedServices }
  | { kind: 'event', type: ServiceEventType, service: string, instance: string, epoch: number, reason?: string, from?: MemberId }

/** What a member keeps across restarts. */
export interface PersistedServices {
  entries: RegistryEntry[]
  /** Highest epoch known per service, so that a restarted cluster's epochs keep growing. */
  epochs: Record<string, number>
  /** The lease voters last known (ClusterView): a member restarted alone still needs a majority of them. */
  voters?: string[]
}

/** This member's side of a partition, from membership (membership/partition.ts). */
export interface MembershipHealth {
  side: Side
  /** The last stable membership's size: a lease needs a majority of it. */
  stableSize: number
}

export interface ServicesStats {
  leaseRounds: number
  leasesGranted: number
  leasesRefused: number
  starts: number
  restarts: number
  /** Instances given up here after repeated failures (the service moved elsewhere). */
  givenUp: number
  registryExchanges: number
}
