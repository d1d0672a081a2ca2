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
 *   false suspicion), never for anyone else.
 *
 * What this does not stop: a replica the coordinator chose that lies about
 * the coordinator's failure, and a task holder that reports a wrong value
 * for a task it holds (workloads/README.md, Known limits).
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
}

/** Judges a message for a known job from `from` at `epoch`. */
export function judge (known: JobAuthority, from: MemberId, epoch: number, opts: JudgeOptions): Verdict {
  // an old coordinator that has not heard of the takeover yet is stale, not forged
  if (epoch < known.epoch) return 'stale'
  if (from === known.coordinator) return 'accept'
  if (epoch === known.epoch || !known.replicas.includes(from)) return 'forged'
  if (opts.selfIsCoordinator) return 'accept'
  return opts.coordinatorAlive ? 'wait' : 'accept'
}

/** Drop counts of messages from members without the role they need, by message type. */
export type ForgedCounts = Record<string, number>

export function countForged (counts: ForgedCounts, type: string): void {
  counts[type] = (counts[type] ?? 0) + 1
}
