/**
 * Work-claims parameters. Durations are in milliseconds, sizes in bytes, and
 * say so in their names.
 */

export interface WorkConfig {
  /** Tasks this node runs at once. Default: the CPU count (the agent passes it); 4 here. */
  slots: number
  /**
   * A lease lasts this long without renewal. Shorter: a silent worker's tasks come
   * back sooner; longer: fewer false releases on a slow network. Membership
   * failure detection usually releases a dead worker's tasks first.
   */
  leaseMs: number
  /** Workers renew their leases this often. Must be well below leaseMs (about a third). */
  leaseRenewMs: number
  /** Unowned tasks are offered again this often, each time to a wider set of members. */
  offerIntervalMs: number
  /** Tasks per offer message: bounds message size on the topic. */
  offerBatchSize: number
  /**
   * Pending tasks of one job on offer at a time (the first ones, in the order
   * they became pending). Larger than the cluster's task slots, so that every
   * worker has tasks to claim; far smaller than a big job, so that re-offers
   * stay cheap.
   */
  offerWindowTasks: number
  /**
   * After claims are granted, tasks that slid into the offer window are
   * offered this much later (gathering the slides of several claims into one
   * offer message) instead of waiting for the next offerIntervalMs round.
   */
  offerSlideDelayMs: number
  /** A claim not answered within this long frees its reserved slot. */
  claimTimeoutMs: number
  /** Runs of one task that may throw before the job fails with the task's error. */
  maxTaskAttempts: number
  /** Largest job input, as JSON (UTF-8 bytes). */
  maxInputBytes: number
  /** Most tasks a job may split into. */
  maxTasksPerJob: number
  /** Replicas of each job record besides the coordinator. */
  replicas: number
  /**
   * A replica is sent at most one whole snapshot this often (it asks again
   * after a lost delta or part). A snapshot of a big job is megabytes of
   * encoding: spacing them bounds what a lossy replica costs the coordinator.
   */
  snapshotMinIntervalMs: number
  /**
   * A coordinator sends each replica of a running job at least one delta this
   * often (an empty one when nothing changed), and a replica that has heard
   * nothing for three of these asks again: so a replica that lost the job's
   * end, or a coordinator that slept through its own takeover, learns of it.
   */
  replicationHeartbeatMs: number
  /** Capacity (free slots) is published at most this often, when it changed. */
  capacityIntervalMs: number
}

export const DEFAULTS: Readonly<WorkConfig> = Object.freeze({
  slots: 4,
  leaseMs: 10_000,
  leaseRenewMs: 3_000,
  offerIntervalMs: 500,
  offerBatchSize: 256,
  offerWindowTasks: 1024,
  offerSlideDelayMs: 20,
  claimTimeoutMs: 2_000,
  maxTaskAttempts: 3,
  maxInputBytes: 64 * 1024,
  maxTasksPerJob: 1_000_000,
  replicas: 1,
  snapshotMinIntervalMs: 1000,
  replicationHeartbeatMs: 5_000,
  capacityIntervalMs: 1000,
})

export class InvalidWorkConfigError extends Error {
  override name = 'InvalidWorkConfigError'
}

/** Validates a config and throws InvalidWorkConfigError naming the first bad field. */
export function validate (config: WorkConfig): WorkConfig {
  for (const key of Object.keys(DEFAULTS) as Array<keyof WorkConfig>) {
    const value = config[key]
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidWorkConfigError(`${key} must be a finite number >= 0, got ${String(value)}`)
    }
  }
  const positiveIntegers: Array<keyof WorkConfig> = ['slots', 'offerBatchSize', 'offerWindowTasks', 'maxTaskAttempts', 'maxInputBytes', 'maxTasksPerJob']
  for (const key of positiveIntegers) {
    if (!Number.isInteger(config[key]) || config[key] < 1) throw new InvalidWorkConfigError(`${key} must be an integer >= 1`)
  }
  if (!Number.isInteger(config.replicas)) throw new InvalidWorkConfigError('replicas must be an integer >= 0')
  const positive: Array<keyof WorkConfig> = ['leaseMs', 'leaseRenewMs', 'offerIntervalMs', 'offerSlideDelayMs', 'claimTimeoutMs', 'capacityIntervalMs', 'snapshotMinIntervalMs', 'replicationHeartbeatMs']
  for (const key of positive) {
    if (config[key] <= 0) throw new InvalidWorkConfigError(`${key} must be > 0`)
  }
  if (config.leaseRenewMs * 2 > config.leaseMs) {
    throw new InvalidWorkConfigError('leaseRenewMs must be at most half of leaseMs')
  }
  return config
}

/** A full config from defaults and overrides, validated. */
export function fromPartial (partial: Partial<WorkConfig> = {}): WorkConfig {
  return validate({ ...DEFAULTS, ...partial })
}
