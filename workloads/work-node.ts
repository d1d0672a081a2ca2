/**
 * One node's work-claims core: the coordinator/replica side and the worker
 * side behind one sans-IO face. Messages this node publishes are also
 * delivered to itself (gossipsub does not echo), and messages it sends to
 * itself never leave: so a single node runs jobs alone, and the driver only
 * carries effects to other members.
 */
import type { WorkConfig } from './config.ts'
import { Coordinator, type CoordinatorStats } from './coordinator.ts'
import type { JobOptions, JobView, MemberId, Peer, Random, TaskOutcome, WorkEffect, WorkMessage, WorkloadRegistry } from './types.ts'
import { Worker, type WorkerStats } from './worker.ts'

export interface WorkNodeOptions {
  self: { id: MemberId, name: string, tags?: Record<string, string> }
  config: WorkConfig
  registry: WorkloadRegistry
  random: Random
}

export interface WorkNodeStats {
  coordinator: CoordinatorStats
  worker: WorkerStats
}

export interface WorkNode {
  readonly self: MemberId
  /** Starts a job coordinated here. Throws JobRejectedError (nothing started) on bad input or options. */
  /** `createdAt`: the submit's wall-clock time (ms since 1970), shown in the job's view; the core reads no clock. */
  submit: (now: number, workload: string, input: unknown, options?: JobOptions, createdAt?: number | null) => { jobId: string, effects: WorkEffect[] }
  /** Stops a job coordinated here; undefined when this node does not coordinate it or it already ended. */
  cancel: (now: number, jobId: string) => WorkEffect[] | undefined
  /** A message from the authenticated member `from` (topic or direct). */
  receive: (now: number, from: MemberId, msg: WorkMessage) => WorkEffect[]
  /** The full membership view (this node included), on every change. */
  members: (now: number, peers: readonly Peer[]) => WorkEffect[]
  /** A `run` effect finished. */
  taskFinished: (now: number, jobId: string, index: number, outcome: TaskOutcome) => WorkEffect[]
  tick: (now: number) => WorkEffect[]
  /** The earliest time tick() has work to do. */
  nextDeadline: () => number
  /** A job this node coordinates or replicates. */
  job: (id: string) => JobView | undefined
  jobs: () => JobView[]
  /** The coordinator of a job this node coordinates, replicates, works on or saw end. */
  coordinatorOf: (id: string) => MemberId | undefined
  /** Free task slots (not running, not reserved by a claim). */
  free: () => number
  stats: () => WorkNodeStats
}

const TO_COORDINATOR = new Set(['claim', 'renew', 'release', 'result', 'cancel', 'snapshot', 'replicate', 'resync', 'held', 'takeover', 'job-end'])
const TO_WORKER = new Set(['offer', 'grant', 'deny', 'revoke', 'result-ack', 'takeover', 'job-end', 'capacity'])

export function createWorkNode (opts: WorkNodeOptions): WorkNode {
  const self = opts.self.id
  const coordinator = new Coordinator({ self, config: opts.config, registry: opts.registry, random: opts.random })
  const worker = new Worker({
    self,
    config: opts.config,
    canRun: (name) => opts.registry.has(name),
    validateTask: (name, input) => {
      const validateTask = opts.registry.get(name)?.validateTask
      return validateTask != null ? validateTask(input) : input
    }
  })
  const selfPeer: Peer = { id: self, name: opts.self.name, alive: true, tags: opts.self.tags ?? {} }
  coordinator.members(0, [selfPeer]) // no jobs yet: no effects
  worker.members(0, [selfPeer])

  function dispatch (now: number, from: MemberId, msg: WorkMessage): WorkEffect[] {
    const out: WorkEffect[] = []
    if (TO_COORDINATOR.has(msg.type)) out.push(...coordinator.receive(now, from, msg))
    if (TO_WORKER.has(msg.type)) out.push(...worker.receive(now, from, msg))
    return out
  }

  /** Performs the loopback part of the effects; returns what the driver must do. */
  function drain (now: number, effects: WorkEffect[]): WorkEffect[] {
    const out: WorkEffect[] = []
    const queue = effects.slice()
    for (let i = 0; i < queue.length; i++) {
      const e = queue[i]
      if (e.kind === 'send' && e.to === self) {
        queue.push(...dispatch(now, self, e.msg))
        continue
      }
      out.push(e)
      if (e.kind === 'publish') queue.push(...dispatch(now, self, e.msg))
    }
    return out
  }

  return {
    self,
    submit (now, workload, input, options, createdAt) {
      const { jobId, effects } = coordinator.submit(now, workload, input, options, createdAt)
      return { jobId, effects: drain(now, effects) }
    },
    cancel (now, jobId) {
      const effects = coordinator.cancel(now, jobId)
      return effects == null ? undefined : drain(now, effects)
    },
    receive: (now, from, msg) => drain(now, dispatch(now, from, msg)),
    members (now, peers) {
      const all = peers.some(p => p.id === self) ? peers : [...peers, selfPeer]
      return drain(now, [...coordinator.members(now, all), ...worker.members(now, all)])
    },
    taskFinished: (now, jobId, index, outcome) => drain(now, worker.taskFinished(now, jobId, index, outcome)),
    tick: (now) => drain(now, [...coordinator.tick(now), ...worker.tick(now)]),
    nextDeadline: () => Math.min(coordinator.nextDeadline(), worker.nextDeadline()),
    job: (id) => coordinator.job(id),
    jobs: () => coordinator.jobs(),
    coordinatorOf: (id) => coordinator.coordinatorOf(id) ?? worker.coordinatorOf(id),
    free: () => worker.free(),
    stats: () => ({ coordinator: coordinator.stats(), worker: worker.stats() })
  }
}
