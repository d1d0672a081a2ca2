/**
 * Who may speak for a job. The transport authenticates the sender of every
 * work message; these rules decide whether that sender holds the role the
 * message needs, so that no member can speak for another:
 *
 * - the job's current coordinator speaks for it (offers, grants, job ends,
 *   replication) at its epoch;
 * - another member speaks for it only by taking it over: at a higher epoch,
 *   as one of the replicas the coordinator named, and only once the
 *   coordinator is failed in the receiver's own view. A takeover heard before
 *   the receiver's failure detector agrees waits until it does (or is
 *   dropped if the coordinator stays alive);
 * - the coordinator itself is alive in its own view by definition: it steps
 *   down for one of its replicas at a higher epoch (a replica takes over only
 *   after its failure detector declared the coordinator failed, e.g. after a
 *   false suspicion), never for anyone else, and says so: whoever follows it
 *   follows its word (replica.ts follow, worker.ts);
 * - a worker's list of replicas can be out of date: it learns them from
 *   offers, and a coordinator that replaced a failed replica and then failed
 *   itself may have had no offer left to send. When every replica a worker
 *   knows of has failed too, it follows whoever takes over at a higher epoch
 *   once the coordinator is failed: else the job would stall for good.
 *
 * What this does not stop: a replica the coordinator chose that lies about
 * the coordinator's failure, a member that takes over a job whose
 * coordinator and known replicas have all failed, and a task holder that
 * reports a wrong value for a task it holds (workloads/README.md, Known
 * limits).
 */
import type { MemberId } from './types.ts'

/** What a node knows of a job's authority. */
export interface JobAuthority {
  coordinator: MemberId
  epoch: number
  replicas: readonly MemberId[]
}

/**
 * `accept`: the sender speaks for the job at that epoch (a takeover when the
 * sender is not the coordinator); `wait`: a takeover this node's failure
 * detector does not confirm yet; `stale`: an older epoch (dropped quietly);
 * `forged`: the sender holds no role that allows it (dropped and counted).
 */
export type Verdict = 'accept' | 'wait' | 'stale' | 'forged'

export interface JudgeOptions {
  /** Whether the job's current coordinator is alive (or suspect) in this node's view. */
  coordinatorAlive: boolean
  /** This node is the job's current coordinator. */
  selfIsCoordinator: boolean
  /**
   * Whether any replica this node knows of is alive (or suspect) in its view.
   * Given only by workers, whose list may be out of date; when false, a
   * takeover from a member outside the list is taken (see above).
   */
  knownReplicaAlive?: boolean
}

/** Judges a message for a known job from `from` at `epoch`. */
export function judge (known: JobAuthority, from: MemberId, epoch: number, opts: JudgeOptions): Verdict {
  // an old coordinator that has not heard of the takeover yet is stale, not forged
  if (epoch < known.epoch) return 'stale'
  if (from === known.coordinator) return 'accept'
  if (epoch === known.epoch) return 'forged'
  if (!known.replicas.includes(from)) {
    if (opts.selfIsCoordinator || opts.knownReplicaAlive !== false) return 'forged'
    return opts.coordinatorAlive ? 'wait' : 'accept'
  }
  if (opts.selfIsCoordinator) return 'accept'
  return opts.coordinatorAlive ? 'wait' : 'accept'
}

/** Drop counts of messages from members without the role they need, by message type. */
export type ForgedCounts = Record<string, number>

export function countForged (counts: ForgedCounts, type: string): void {
  counts[type] = (counts[type] ?? 0) + 1
}
