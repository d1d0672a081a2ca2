/**
 * Public face of the work-claims core: gossiped work claims, sans-IO.
 *
 * `createWorkNode` returns one node's state machine (coordinator, replica and
 * worker sides). Drive it with the current time and inputs (`submit`,
 * `receive`, `members`, `taskFinished`, `tick` at or after `nextDeadline()`);
 * perform the effects it returns: `publish` on the cluster topic, `send` on a
 * direct stream, `run`/`abort` a task, `job` (progress for local watchers).
 * See workloads/README.md for the design.
 */
export type * from './types.ts'
export { createWorkNode } from './work-node.ts'
export { PeerView } from './peer-view.ts'
export type { WorkSender } from './ports.ts'
export type { WorkNode, WorkNodeOptions, WorkNodeStats } from './work-node.ts'
export { JobRejectedError } from './coordinator.ts'
export type { CoordinatorStats } from './coordinator.ts'
export type { WorkerStats } from './worker.ts'
export { DEFAULTS, fromPartial, validate, InvalidWorkConfigError } from './config.ts'
export type { WorkConfig } from './config.ts'
export { builtinWorkloads, primes, sha256, sleep, echo, countPrimes } from './builtins.ts'
export { rank, rankOf, score, claimWeight, taskKey, fnv1a64 } from './rendezvous.ts'
