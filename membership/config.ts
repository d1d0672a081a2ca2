/**
 * Membership protocol parameters. Every duration is in milliseconds and says
 * so in its name. Profiles are derived from one base, as memberlist does.
 */

export interface MembershipConfig {
  /** Time between probes of one member. Faster detection, more traffic. */
  probeIntervalMs: number
  /** How long to wait for a direct ack before trying indirect probes. Must be < probeIntervalMs. */
  probeTimeoutMs: number
  /**
   * Longest a probe waits for the transport to set up a connection for its
   * ping before it goes on as if the ping were lost. A ping that waits for a
   * handshake has not left, so its missing ack says nothing of the target
   * (docs/design.md); the transport reports the connection's outcome sooner
   * (gossip connectTimeoutMs, 10 s), so this only bounds a transport that
   * never does. Longer than the transport's connect timeout.
   */
  probeConnectWaitMs: number
  /** Members asked to probe indirectly (SWIM k). More: fewer false positives, more traffic. */
  indirectChecks: number
  /**
   * Suspicion timeout multiplier: min timeout = suspicionMult * log10(max(1, n)) * probeIntervalMs.
   * Larger: fewer false positives on a flaky network, slower failure detection.
   */
  suspicionMult: number
  /** Lifeguard: max suspicion timeout = suspicionMaxTimeoutMult * min timeout (used while unconfirmed). */
  suspicionMaxTimeoutMult: number
  /**
   * Suspicion timeout used when the transport reported "connection refused": positive
   * evidence that the process is gone, so a short window for refutation is enough.
   */
  refusedSuspicionTimeoutMs: number
  /**
   * A suspicion is not declared failed sooner than this many times the slowest
   * refutation this node saw in the last refutationWindowMs (from the moment it
   * began suspecting a member to that member's refutation; or from a ping to
   * an ack that missed the probe timeout), and never later than
   * the max suspicion timeout. Refutations arriving that slowly mean the cluster
   * is starved (a start storm), and the minimum timeout would mark live members
   * failed; an idle, healthy cluster has none, so detection is unchanged there.
   * 0: off.
   */
  suspicionRefutationMult: number
  /** How far back the slowest refutation (or late ack) counts for suspicionRefutationMult, a member's slowest ack for probePatienceMult, and a member's arrival for firstAckPatienceMs. */
  refutationWindowMs: number
  /**
   * A probe waits for a member's ack at least this many times the slowest ack
   * that member gave this node lately (in refutationWindowMs), both before
   * the indirect probes and after them, up to awarenessMaxMultiplier ×
   * probeTimeoutMs. A member that answers in milliseconds is probed on the
   * usual clock; one starved to acks of seconds is not suspected for being
   * slow (membership/probe-clock.ts). 0: off.
   */
  probePatienceMult: number
  /**
   * A probe of a member that has not acked this node since it came (learned,
   * or back alive, within refutationWindowMs) waits at least this long for
   * its ack, before the indirect probes and again after them: in a start of
   * many members every host is starved, a member's first ack can take
   * seconds, and the usual clock would suspect it before it could answer
   * (Akka's `expected-response-after` does this for a first heartbeat). A
   * member that has acked is probed on the usual clock (or by
   * probePatienceMult); one that dies before its first ack is suspected up
   * to twice this later. 0 or up to probeTimeoutMs: off.
   */
  firstAckPatienceMs: number
  /** Lifeguard: the local health multiplier saturates at this value - 1; probe timeout and interval scale by (health + 1). */
  awarenessMaxMultiplier: number
  /** Retransmit limit per update = retransmitMult * ceil(log10(n + 1)). */
  retransmitMult: number
  /** Time between gossip rounds that push queued updates without a probe. */
  gossipIntervalMs: number
  /** Members a gossip round sends to. */
  gossipNodes: number
  /**
   * Successors on the member ring (membership/neighbors.ts) this node probes; each
   * member is probed by as many predecessors. Gossip, push-pull and indirect probes
   * go to these, as many predecessors and `longLinks` members across the ring, so a
   * member talks to (and holds a connection to) about 2 × probeNeighbors + longLinks
   * members at any cluster size. 0: every member is probed and gossiped to in turn,
   * as memberlist does (a connection to every member, a cost that grows with N).
   */
  probeNeighbors: number
  /** Members across the ring, picked by hash, that this node gossips to besides its ring neighbours: they keep the gossip graph a few hops wide. */
  longLinks: number
  /** Keep gossiping to a failed member this long, so that it can learn it was declared failed and refute. */
  gossipToTheDeadMs: number
  /** Maximum updates piggybacked on one message. Bounds message size. */
  maxPiggybackUpdates: number
  /** Base interval of push-pull anti-entropy with one random member; scaled up for clusters above 32 members. */
  pushPullIntervalMs: number
  /**
   * Every this often, send a full sync to one random failed (not left) member. This is
   * what merges the two sides after a partition heals, without restarts or manual
   * joins. Shorter: faster healing, more dial attempts at members that are really gone.
   * Stretched above 16 live members in proportion to their number (formulas.ts
   * reconnectScaleMs): the cluster makes about 16 attempts per interval at any size.
   */
  reconnectIntervalMs: number
  /** Retry interval of a join that has not been answered yet. */
  joinRetryIntervalMs: number
  /**
   * A member gets this node's full state on its request (the answer to its
   * sync, the exchange its digest asked for) at most once per this many ms;
   * its requests within the gap get one answer at the gap's end, with the
   * state then (sync-answers.ts). A request costs its sender a few bytes and
   * this node an entry per member: unbounded, one member could keep it busy
   * encoding (docs/security.md). 0: no bound.
   */
  syncAnswerGapMs: number
  /**
   * Entries of full states this node sends on others' requests per second, all
   * requesters together (an answer costs one per member of the view; one goes
   * out whenever any of the last second's allowance is left). Bounds what many
   * identities, in a cluster without a key, can make it encode. 0: no bound.
   */
  syncAnswerMembersPerSecond: number
  /** A failed member is forgotten (reaped) after this long. */
  reapFailedAfterMs: number
  /** A member that left is forgotten after this long. */
  reapLeftAfterMs: number
  /**
   * A member retired by an operator's force-leave is forgotten after this long (or
   * reapLeftAfterMs, if shorter): long enough for push-pull to carry the retirement
   * to members that missed its gossip, short enough that the list clears soon.
   */
  reapForcedLeftAfterMs: number
  /**
   * Partition detection (membership/partition.ts). The alive set (this node and every
   * member seen `alive`) becomes the "last stable membership" once it has not changed
   * for this long (ms). Members that crashed (refused / new boot id) or left leave the
   * stable membership at once; members gone silent only after partitionForgetMs.
   */
  stableAfterMs: number
  /**
   * How long (ms) a member failed for silence (`unreachable` / `partition`) still counts
   * in the stable membership. Until then a partition keeps being reported as one (this
   * side stays `minority` / `majority`); after it, the silent members are accepted as
   * gone and the partition episode ends. Longer: a long partition stays visible longer,
   * but a dead host also keeps counting against the majority for longer.
   */
  partitionForgetMs: number
  /**
   * Silent failures within this window (ms) of each other count as one group: with
   * partitionGroupMin of them, the whole group gets the cause `partition`. At least the
   * max suspicion timeout (suspicionMaxTimeoutMult * suspicionMult * log10(n) * probeIntervalMs,
   * 41 s for 50 members on lan), so that the members cut off together fall into one
   * window. Longer: two unrelated silent failures this close are also called a partition.
   */
  partitionWindowMs: number
  /** Members failed for silence within partitionWindowMs that make a partition (count, >= 1). A lone silent member stays `unreachable`. */
  partitionGroupMin: number
}

export type ProfileName = 'lan' | 'wan' | 'local' | 'edge'

/** The profile names, in the order the CLI usage and error messages list them. */
export const PROFILE_NAMES: readonly ProfileName[] = Object.freeze(['lan', 'wan', 'local', 'edge'])

/** Defaults for a LAN: memberlist's DefaultLANConfig timings, with a short refused-connection window. */
export const LAN: Readonly<MembershipConfig> = Object.freeze({
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  probeConnectWaitMs: 15_000,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  refusedSuspicionTimeoutMs: 500,
  suspicionRefutationMult: 3,
  refutationWindowMs: 60_000,
  probePatienceMult: 2,
  firstAckPatienceMs: 4000,
  awarenessMaxMultiplier: 8,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  probeNeighbors: 4,
  longLinks: 3,
  gossipToTheDeadMs: 30_000,
  maxPiggybackUpdates: 16,
  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 2000,
  joinRetryIntervalMs: 1000,
  syncAnswerGapMs: 250,
  syncAnswerMembersPerSecond: 200_000,
  reapFailedAfterMs: 24 * 3600_000,
  reapLeftAfterMs: 24 * 3600_000,
  reapForcedLeftAfterMs: 15 * 60_000,
  stableAfterMs: 3000,
  partitionForgetMs: 10 * 60_000,
  partitionWindowMs: 60_000,
  partitionGroupMin: 2,
})

/** A WAN: higher latency and loss tolerated; slower detection. */
export const WAN: Readonly<MembershipConfig> = Object.freeze({
  ...LAN,
  probeIntervalMs: 5000,
  probeTimeoutMs: 3000,
  firstAckPatienceMs: 12_000,
  suspicionMult: 6,
  refusedSuspicionTimeoutMs: 3000,
  refutationWindowMs: 300_000,
  gossipIntervalMs: 500,
  gossipNodes: 4,
  gossipToTheDeadMs: 60_000,
  pushPullIntervalMs: 60_000,
  reconnectIntervalMs: 10_000,
  joinRetryIntervalMs: 3000,
  syncAnswerGapMs: 1000,
  stableAfterMs: 15_000,
  partitionForgetMs: 30 * 60_000,
  partitionWindowMs: 300_000,
})

/** One host or a fast local network: fast detection, more traffic. */
export const LOCAL: Readonly<MembershipConfig> = Object.freeze({
  ...LAN,
  probeIntervalMs: 500,
  probeTimeoutMs: 200,
  firstAckPatienceMs: 1600,
  suspicionMult: 3,
  refusedSuspicionTimeoutMs: 200,
  refutationWindowMs: 30_000,
  gossipIntervalMs: 100,
  gossipToTheDeadMs: 15_000,
  pushPullIntervalMs: 15_000,
  reconnectIntervalMs: 1000,
  joinRetryIntervalMs: 500,
  syncAnswerGapMs: 125,
  stableAfterMs: 1500,
  partitionForgetMs: 5 * 60_000,
  partitionWindowMs: 30_000,
})

/**
 * Small devices (edge gateways, single-board computers): less traffic, fewer
 * messages per second and smaller messages, paid for with slower detection and
 * dissemination. Every probe and suspicion duration scales with probeIntervalMs,
 * so against `lan` (same suspicionMult and suspicionMaxTimeoutMult):
 *   - a silent member is suspected after up to 2 s instead of 1 s (one probe interval);
 *   - the suspicion timeout, suspicionMult * log10(max(1, n)) * probeIntervalMs, doubles:
 *     8 s min / 48 s max for n <= 10 (lan: 4 s / 24 s), 13.6 s / 81.5 s for n = 50;
 *   - so a silently failed member is declared failed by all about 2x later;
 *     a crash (connection refused) takes up to 2 s + 1 s instead of 1 s + 0.5 s;
 *   - gossip rounds every 500 ms to 2 members (lan: 200 ms to 3): an update needs
 *     about log2(n) rounds of 500 ms instead of log3(n) rounds of 200 ms;
 *   - at most 8 updates per message (lan 16): a burst of changes drains in twice
 *     as many messages; push-pull anti-entropy every 60 s (lan 30 s).
 * The transport side (fewer connections, smaller queues) is in agent/config.ts
 * (PROFILE_TRANSPORT).
 */
export const EDGE: Readonly<MembershipConfig> = Object.freeze({
  ...LAN,
  probeIntervalMs: 2000,
  probeTimeoutMs: 800,
  firstAckPatienceMs: 6400,
  refusedSuspicionTimeoutMs: 1000,
  refutationWindowMs: 120_000,
  gossipIntervalMs: 500,
  gossipNodes: 2,
  maxPiggybackUpdates: 8,
  pushPullIntervalMs: 60_000,
  reconnectIntervalMs: 5000,
  joinRetryIntervalMs: 2000,
  syncAnswerGapMs: 500,
  stableAfterMs: 6000,
  partitionWindowMs: 120_000,
})

export const PROFILES: Readonly<Record<ProfileName, Readonly<MembershipConfig>>> = Object.freeze({
  lan: LAN,
  wan: WAN,
  local: LOCAL,
  edge: EDGE,
})

export class InvalidMembershipConfigError extends Error {
  override name = 'InvalidMembershipConfigError'
}

/** Validates a config and throws InvalidMembershipConfigError naming the first bad field. */
export function validate (config: MembershipConfig): MembershipConfig {
  const positive: Array<keyof MembershipConfig> = [
    'probeIntervalMs', 'probeTimeoutMs', 'probeConnectWaitMs', 'suspicionMult', 'suspicionMaxTimeoutMult',
    'refusedSuspicionTimeoutMs', 'awarenessMaxMultiplier', 'retransmitMult', 'gossipIntervalMs',
    'maxPiggybackUpdates', 'pushPullIntervalMs', 'reconnectIntervalMs', 'joinRetryIntervalMs',
    'stableAfterMs', 'partitionForgetMs', 'partitionGroupMin'
  ]
  for (const key of Object.keys(LAN) as Array<keyof MembershipConfig>) {
    const value = config[key]
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidMembershipConfigError(`${key} must be a finite number >= 0, got ${String(value)}`)
    }
  }
  for (const key of positive) {
    if (config[key] <= 0) throw new InvalidMembershipConfigError(`${key} must be > 0`)
  }
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    throw new InvalidMembershipConfigError('probeTimeoutMs must be smaller than probeIntervalMs')
  }
  if (config.suspicionMaxTimeoutMult < 1) {
    throw new InvalidMembershipConfigError('suspicionMaxTimeoutMult must be >= 1')
  }
  for (const key of ['probeNeighbors', 'longLinks'] as const) {
    if (!Number.isInteger(config[key])) throw new InvalidMembershipConfigError(`${key} must be an integer >= 0`)
  }
  if (!Number.isInteger(config.partitionGroupMin)) {
    throw new InvalidMembershipConfigError('partitionGroupMin must be an integer >= 1')
  }
  return config
}

/** A full config from a profile and overrides, validated. */
export function fromPartial (partial: Partial<MembershipConfig> = {}, profile: ProfileName = 'lan'): MembershipConfig {
  const base = PROFILES[profile]
  if (base == null) throw new InvalidMembershipConfigError(`unknown profile "${String(profile)}" (${PROFILE_NAMES.join(', ')})`)
  return validate({ ...base, ...partial })
}
