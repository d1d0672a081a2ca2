/**
 * Work claims in the agent: drives the sans-IO work core (workloads/) with a
 * real clock and carries its effects over the work transport (gossip/). The
 * rest is by concern, beside this file:
 * - work-tasks.ts: the task runner (slots; CPU-bound built-ins in task
 *   threads, the rest on the event loop);
 * - work-lookup.ts: job lookups from any node (ended-job cache, `job-query`);
 * - work-job-handle.ts: the handles of jobs submitted here;
 * - work-registry.ts: the workloads this node has, and registration checks.
 */
import { createWorkNode, fnv1a64, JobRejectedError, PeerView, type JobOptions, type JobView, type WorkEffect, type WorkNode, type WorkNodeStats, type Workload } from '../workloads/index.ts'
import { CoreDriver, seededRandom, type DriverTimers } from '../membership/index.ts'
import { createWorkTransport, isOperatorMessage, isServiceMessage, type ClusterNode, type OperatorMessage, type ServiceWireMessage, type WireMessage, type WorkTransport, type WorkTransportStats } from '../gossip/index.ts'
import type { ResolvedAgentOptions } from './config.ts'
import type { Member } from '../membership/index.ts'
import { JobHandle, SubmittedJobs } from './work-job-handle.ts'
import { builtinRegistry, checkExecAllowed, workloadsApi, type WorkloadsApi } from './work-registry.ts'
import { PREFETCH_PER_SLOT, TaskRunner } from './work-tasks.ts'
import { JobLookup } from './work-lookup.ts'
import { JobEvents, type JobEventName } from './job-events.ts'

export { JobRejectedError, JobHandle }
export type { WorkloadsApi }

export interface WorkStats extends WorkNodeStats {
  transport: WorkTransportStats
  /** Tasks that ran in a task thread / on the event loop. */
  threads: { threadRuns: number, loopRuns: number }
  /** This agent's task slots now: how many run a task, and granted tasks waiting for one. */
  slots: { total: number, running: number, waiting: number }
  /** Job ends not from the job's coordinator (not remembered), and lookup answers not from it (used only when it did not answer). */
  lookups: { endsRejected: number, answersFromOthers: number }
  /** Jobs coordinated here: accepted, taken over, and ended by status. */
  jobs: JobEvents['counts']
}

export interface WorkDriverOptions {
  libp2p: ClusterNode
  options: ResolvedAgentOptions
  /** The agent's clock and timers (agent/real-timers.ts). */
  timers: DriverTimers
  /** Seed of the work core's random generator (job ids); mixed with the peer id so that agents never share a sequence. */
  seed: number
  /** Events of the jobs this agent coordinates (agent/job-events.ts). */
  onJobEvent?: (type: JobEventName, view: JobView) => void
  /** The services core's messages, which share the work transport (agent/services.ts). */
  onServiceMessage?: (from: string, msg: ServiceWireMessage) => void
  /** User events and queries, which share it too (agent/operator.ts). */
  onOperatorMessage?: (from: string, msg: OperatorMessage) => void
}

export class WorkDriver {
  readonly #clock: () => number
  /** Feeds the work core its inputs and timer (membership/driver.ts), as the simulator does. */
  readonly #driver: CoreDriver<WorkEffect>
  readonly #registry: Map<string, Workload>
  readonly #core: WorkNode
  readonly #transport: WorkTransport
  readonly #tasks: TaskRunner
  readonly #lookup: JobLookup
  /** The members as the work core sees them, kept from membership events (memberChanged). */
  readonly #peers = new PeerView()
  readonly #submitted: SubmittedJobs
  readonly #jobEvents: JobEvents
  readonly #onServiceMessage: WorkDriverOptions['onServiceMessage']
  readonly #onOperatorMessage: WorkDriverOptions['onOperatorMessage']
  #stopped = false
  readonly workloads: WorkloadsApi

  constructor (opts: WorkDriverOptions) {
    this.#clock = opts.timers.now
    this.#onServiceMessage = opts.onServiceMessage
    this.#onOperatorMessage = opts.onOperatorMessage
    this.#registry = builtinRegistry(opts.options.allowExec)
    this.workloads = workloadsApi(this.#registry)
    this.#core = createWorkNode({
      self: { id: opts.libp2p.peerId.toString(), name: opts.options.name, tags: opts.options.tags },
      config: { ...opts.options.work, slots: opts.options.work.slots * (1 + PREFETCH_PER_SLOT) },
      registry: this.#registry,
      random: seededRandom((opts.seed ^ Number(fnv1a64(opts.libp2p.peerId.toString()) & 0xffffffffn)) >>> 0)
    })
    const accept = opts.options.acceptFrom
    this.#transport = createWorkTransport(opts.libp2p, opts.libp2p.services.pubsub, (from, msg) => { if (accept == null || accept(from)) this.#receive(from, msg) })
    this.#tasks = new TaskRunner({
      registry: this.#registry,
      slots: opts.options.work.slots,
      name: opts.options.name,
      tags: opts.options.tags,
      finished: (jobId, index, outcome) => {
        this.#driver.drive(now => this.#core.taskFinished(now, jobId, index, outcome))
        this.#submitted.progress(jobId) // a job submitted here whose task ran here
        this.#jobEvents.progressed(jobId, id => this.#core.job(id))
      }
    })
    this.#lookup = new JobLookup({ core: this.#core, transport: this.#transport, stopped: () => this.#stopped })
    this.#submitted = new SubmittedJobs(this.#clock, id => this.#core.job(id))
    this.#jobEvents = new JobEvents(this.#clock, (type, view) => { opts.onJobEvent?.(type, view) })
    this.#driver = new CoreDriver({ core: this.#core, perform: effects => { this.#perform(effects) }, timers: opts.timers })
  }

  async start (): Promise<void> {
    await this.#transport.start()
    this.#driver.rearm()
  }

  async stop (): Promise<void> {
    this.#stopped = true
    this.#driver.stop()
    this.#tasks.abortAll()
    this.#submitted.abandonAll('the agent stopped before the job ended')
    this.#lookup.stop()
    await this.#tasks.close()
    await this.#transport.stop().catch(() => {})
  }

  /** Starts a job coordinated by this node. Throws JobRejectedError (nothing started) on bad input. */
  submit (workload: string, input: unknown, options: JobOptions = {}): JobHandle {
    if (this.#stopped) throw new Error('the agent is stopped')
    checkExecAllowed(workload, this.#registry)
    const now = this.#clock()
    const { jobId, effects } = this.#core.submit(now, workload, input, options, Date.now())
    this.#tasks.warmFor(workload)
    const handle = new JobHandle(this.#core.job(jobId) as JobView)
    this.#submitted.add(handle)
    this.#perform(effects)
    this.#driver.rearm()
    return handle
  }

  /**
   * Stops a job, from any member: here if this node coordinates it, else its
   * coordinator (as this node or the members it asks know it) is told.
   * Resolves with the job after the request: ended `cancelled` once the
   * coordinator's end arrived (within LOOKUP_TIMEOUT_MS), still `running` if
   * it has not yet, or as it ended if it had already; undefined when nobody
   * knows the id.
   */
  async cancel (id: string): Promise<JobView | undefined> {
    if (this.#stopped) throw new Error('the agent is stopped')
    const effects = this.#core.cancel(this.#clock(), id)
    if (effects != null) {
      this.#perform(effects)
      this.#driver.rearm()
      return this.localJob(id)
    }
    const job = await this.job(id)
    if (job == null || job.status !== 'running') return job
    const ended = this.#lookup.endOf(id)
    this.#transport.send(job.coordinator, { type: 'cancel', jobId: id })
    return await ended ?? job
  }

  /** A member's record changed (or, `forgotten`, it was reaped); true when the work core must hear of it (PeerView.changed). */
  memberChanged (member: Member, forgotten = false): boolean {
    return this.#peers.changed(member, forgotten)
  }

  /** Hands the work core the members as recorded by memberChanged: alive and suspect ones take part, failed and left ones lose their leases. */
  membersChanged (): void {
    const peers = this.#peers.peers()
    this.#lookup.setAlive(peers.filter(p => p.alive && p.id !== this.#core.self).map(p => p.id))
    this.#driver.drive(now => this.#core.members(now, peers))
  }

  /** A job this node knows locally (coordinated, replicated or ended anywhere). */
  localJob (id: string): JobView | undefined {
    return this.#lookup.local(id)
  }

  /** A job by id from any node: locally, else asks every alive member. */
  async job (id: string): Promise<JobView | undefined> {
    return await this.#lookup.job(id)
  }

  /** Every job this node or any alive member knows, freshest record of each. */
  async jobs (): Promise<JobView[]> {
    return await this.#lookup.jobs()
  }

  stats (): WorkStats {
    const { threads, slots } = this.#tasks.stats()
    return {
      ...this.#core.stats(),
      transport: this.#transport.stats(),
      threads,
      slots,
      lookups: this.#lookup.stats(),
      jobs: { ...this.#jobEvents.counts }
    }
  }

  // ---------------------------------------------------------------------------

  /** The work transport, shared with the services driver. */
  get transport (): Pick<WorkTransport, 'publish' | 'send'> {
    return this.#transport
  }

  #receive (from: string, msg: WireMessage): void {
    if (isServiceMessage(msg)) {
      this.#onServiceMessage?.(from, msg)
      return
    }
    if (isOperatorMessage(msg)) {
      this.#onOperatorMessage?.(from, msg)
      return
    }
    if (msg.type === 'job-query') {
      this.#lookup.query(from, msg)
      return
    }
    if (msg.type === 'job-info') {
      this.#lookup.info(from, msg)
      return
    }
    if (msg.type === 'job-end') this.#lookup.jobEnd(from, msg.job)
    if (msg.type === 'result') this.#submitted.progress(msg.jobId)
    if (msg.type === 'offer') this.#tasks.warmFor(msg.workload)
    this.#driver.drive(now => this.#core.receive(now, from, msg))
    if (msg.type === 'result') this.#jobEvents.progressed(msg.jobId, id => this.#core.job(id))
  }

  #perform (effects: WorkEffect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'publish': this.#transport.publish(e.msg); break
        case 'send': this.#transport.send(e.to, e.msg); break
        case 'run': this.#tasks.run(e.jobId, e.workload, e.index, e.input); break
        case 'abort': this.#tasks.abort(e.jobId, e.index); break
        case 'job': {
          if (e.job.status !== 'running') this.#lookup.remember(e.job)
          this.#submitted.update(e.job)
          this.#jobEvents.changed(e.job)
          break
        }
        case 'held': this.#submitted.held(e.jobId); break
      }
    }
  }
}
