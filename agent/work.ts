/**
 * Work claims in the agent: drives the sans-IO work core (workloads/) with a
 * real clock, carries its effects over the work transport (gossip/), runs
 * tasks (CPU-bound built-ins in task threads, the rest on the event loop),
 * and answers job lookups from any node.
 *
 * Lookups: a job is known to its coordinator and replicas while it runs, and
 * to every node once it ends (the coordinator publishes `job-end`, which each
 * node keeps in a bounded cache). A node that knows nothing of an id asks
 * every alive member (`job-query`) and takes the freshest answer.
 */
import { builtinWorkloads, createWorkNode, fnv1a64, JobRejectedError, type JobOptions, type JobView, type Peer, type WorkEffect, type WorkNode, type WorkNodeStats, type Workload } from '../workloads/index.ts'
import { exec } from '../workloads/exec.ts'
import { ThreadPool, ThreadsUnavailableError } from '../workloads/threads.ts'
import { seededRandom } from '../membership/index.ts'
import { createWorkTransport, type ClusterNode, type WireMessage, type WorkTransport, type WorkTransportStats } from '../gossip/index.ts'
import type { ResolvedAgentOptions } from './config.ts'
import type { Member } from '../membership/index.ts'

export { JobRejectedError }

/** Ended jobs remembered for lookups (`agent job ID` on any node), by count and by their size as JSON. */
const ENDED_CACHE = 1024
const ENDED_CACHE_BYTES = 16 * 1024 * 1024
/** How long a lookup waits for other members' answers. */
const LOOKUP_TIMEOUT_MS = 1500
/** Tasks a worker holds ready per slot, besides the running one (see WorkDriver.#run). */
const PREFETCH_PER_SLOT = 1
/** Progress events of a job submitted here come at most this often. */
const PROGRESS_INTERVAL_MS = 250
/** Names reserved for built-ins: register() refuses them. */
const BUILTIN_NAMES = new Set([...builtinWorkloads().keys(), 'exec'])
const WORKLOAD_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

export interface WorkStats extends WorkNodeStats {
  transport: WorkTransportStats
  /** Tasks that ran in a task thread / on the event loop. */
  threads: { threadRuns: number, loopRuns: number }
  /** This agent's task slots now: how many run a task, and granted tasks waiting for one. */
  slots: { total: number, running: number, waiting: number }
  /** Job ends not from the job's coordinator (not remembered), and lookup answers not from it (used only when it did not answer). */
  lookups: { endsRejected: number, answersFromOthers: number }
}

/** A job submitted on this node: its progress as events, its end as a promise. */
export class JobHandle extends EventTarget {
  readonly id: string
  #view: JobView
  readonly #done: Promise<JobView>
  #resolve!: (view: JobView) => void
  #reject!: (err: Error) => void

  constructor (view: JobView) {
    super()
    this.id = view.id
    this.#view = view
    this.#done = new Promise((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    this.#done.catch(() => {}) // a handle nobody awaits must not raise unhandled rejections
  }

  /** The job as last seen (status, stats, result). */
  get view (): JobView {
    return this.#view
  }

  /** Resolves with the ended job (status `done` or `failed`); rejects if the agent stops first. */
  async result (): Promise<JobView> {
    return await this.#done
  }

  /** `progress` as tasks complete (at most every 250 ms) and at the end; `end` once. Returns the unsubscribe function. */
  on (type: 'progress' | 'end', listener: (view: JobView) => void): () => void {
    const wrapped = (event: Event): void => { listener((event as CustomEvent<JobView>).detail) }
    this.addEventListener(type, wrapped)
    return () => { this.removeEventListener(type, wrapped) }
  }

  /** Called by the agent (not by users) with the job's latest view. */
  update (view: JobView): void {
    this.#view = view
    this.dispatchEvent(new CustomEvent('progress', { detail: view }))
    if (view.status !== 'running') {
      this.dispatchEvent(new CustomEvent('end', { detail: view }))
      this.#resolve(view)
    }
  }

  /** Called by the agent when it stops before the job ended. */
  abandon (why: string): void {
    this.#reject(new Error(why))
  }
}

/** What `agent.workloads` offers an embedding program. */
export interface WorkloadsApi {
  /** Adds a workload this node can coordinate and run. Register it on every node that should run its tasks. */
  register: (name: string, workload: Workload) => void
  /** Names and descriptions of the workloads this node has. */
  list: () => Array<{ name: string, kind: string, description: string }>
}

export interface WorkDriverOptions {
  libp2p: ClusterNode
  options: ResolvedAgentOptions
  /** The monotonic clock the core is driven by (the agent's). */
  clock: () => number
  /** Seed of the work core's random generator (job ids); mixed with the peer id so that agents never share a sequence. */
  seed: number
}

export class WorkDriver {
  readonly #clock: () => number
  readonly #registry = new Map<string, Workload>()
  readonly #core: WorkNode
  readonly #transport: WorkTransport
  readonly #pool = new ThreadPool()
  readonly #name: string
  readonly #tags: Record<string, string>
  readonly #slots: number
  readonly #running = new Map<string, AbortController>()
  readonly #handles = new Map<string, JobHandle>()
  readonly #ended = new Map<string, { view: JobView, bytes: number }>()
  #endedBytes = 0
  readonly #lookups = new Map<number, (from: string, jobs: JobView[]) => void>()
  readonly #lookupStats = { endsRejected: 0, answersFromOthers: 0 }
  /** Callers waiting for a job's end to reach this node (see cancel). */
  readonly #endWaiters = new Map<string, Array<(view: JobView) => void>>()
  readonly #lastProgress = new Map<string, number>()
  /** Granted tasks waiting for a free slot (see #run). */
  readonly #waiting: Array<{ controller: AbortController, start: () => void }> = []
  #active = 0
  #alive: string[] = []
  #nextQid = 1
  #timer?: ReturnType<typeof setTimeout>
  #stopped = false
  readonly #threadStats = { threadRuns: 0, loopRuns: 0 }

  constructor (opts: WorkDriverOptions) {
    this.#clock = opts.clock
    this.#name = opts.options.name
    this.#tags = opts.options.tags
    this.#slots = opts.options.work.slots
    for (const [name, workload] of builtinWorkloads()) this.#registry.set(name, workload)
    if (opts.options.allowExec) this.#registry.set('exec', exec)
    this.#core = createWorkNode({
      self: { id: opts.libp2p.peerId.toString(), name: opts.options.name, tags: opts.options.tags },
      config: { ...opts.options.work, slots: opts.options.work.slots * (1 + PREFETCH_PER_SLOT) },
      registry: this.#registry,
      random: seededRandom((opts.seed ^ Number(fnv1a64(opts.libp2p.peerId.toString()) & 0xffffffffn)) >>> 0)
    })
    this.#transport = createWorkTransport(opts.libp2p, opts.libp2p.services.pubsub, (from, msg) => { this.#receive(from, msg) })
  }

  readonly workloads: WorkloadsApi = {
    register: (name, workload) => {
      if (!WORKLOAD_NAME.test(name)) throw new TypeError(`workload name "${name}" must match ${String(WORKLOAD_NAME)}`)
      if (BUILTIN_NAMES.has(name)) throw new TypeError(`workload name "${name}" is reserved for a built-in`)
      if (workload == null || (workload.kind !== 'map' && workload.kind !== 'broadcast') ||
          typeof workload.validate !== 'function' || typeof workload.run !== 'function' || typeof workload.reduce !== 'function' ||
          (workload.kind === 'map' && typeof workload.split !== 'function')) {
        throw new TypeError(`workload "${name}" needs kind (map|broadcast), validate, run, reduce, and split for map`)
      }
      this.#registry.set(name, { ...workload, cpuBound: false, description: workload.description ?? name })
    },
    list: () => [...this.#registry].map(([name, w]) => ({ name, kind: w.kind, description: w.description })).sort((a, b) => a.name.localeCompare(b.name))
  }

  async start (): Promise<void> {
    await this.#transport.start()
    this.#schedule()
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    for (const controller of this.#running.values()) controller.abort(new Error('agent stopping'))
    this.#running.clear()
    this.#waiting.length = 0
    for (const handle of this.#handles.values()) handle.abandon('the agent stopped before the job ended')
    this.#handles.clear()
    for (const answer of this.#lookups.values()) answer('', [])
    await this.#pool.close().catch(() => {})
    await this.#transport.stop().catch(() => {})
  }

  /** Starts a job coordinated by this node. Throws JobRejectedError (nothing started) on bad input. */
  submit (workload: string, input: unknown, options: JobOptions = {}): JobHandle {
    if (this.#stopped) throw new Error('the agent is stopped')
    const now = this.#clock()
    const { jobId, effects } = this.#core.submit(now, workload, input, options)
    if (this.#registry.get(workload)?.cpuBound === true) this.#pool.warm(this.#slots)
    const handle = new JobHandle(this.#core.job(jobId) as JobView)
    this.#handles.set(jobId, handle)
    this.#perform(effects)
    this.#schedule()
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
      this.#schedule()
      return this.localJob(id)
    }
    const job = await this.job(id)
    if (job == null || job.status !== 'running') return job
    const ended = this.#endOf(id)
    this.#transport.send(job.coordinator, { type: 'cancel', jobId: id })
    return await ended ?? job
  }

  /** The job's end as it reaches this node, or undefined after LOOKUP_TIMEOUT_MS. */
  async #endOf (id: string): Promise<JobView | undefined> {
    return await new Promise(resolve => {
      const timer = setTimeout(() => { done(undefined) }, LOOKUP_TIMEOUT_MS)
      const done = (view: JobView | undefined): void => {
        clearTimeout(timer)
        const waiters = (this.#endWaiters.get(id) ?? []).filter(w => w !== done)
        if (waiters.length > 0) this.#endWaiters.set(id, waiters)
        else this.#endWaiters.delete(id)
        resolve(view)
      }
      this.#endWaiters.set(id, [...(this.#endWaiters.get(id) ?? []), done])
    })
  }

  /** The membership view changed: alive and suspect members take part, failed and left ones lose their leases. */
  membersChanged (members: readonly Member[]): void {
    const peers: Peer[] = members.map(m => ({ id: m.id, name: m.name, alive: m.status === 'alive' || m.status === 'suspect', tags: m.tags }))
    this.#alive = peers.filter(p => p.alive && p.id !== this.#core.self).map(p => p.id)
    this.#drive(now => this.#core.members(now, peers))
  }

  /** A job this node knows locally (coordinated, replicated or ended anywhere). */
  localJob (id: string): JobView | undefined {
    // the coordinator's final record first: a replica's own may be behind it
    return this.#ended.get(id)?.view ?? this.#core.job(id)
  }

  /** A job by id from any node: locally, else asks every alive member. */
  async job (id: string): Promise<JobView | undefined> {
    const local = this.localJob(id)
    // an ended record is final; a running job coordinated here is as fresh as it gets
    if (local != null && (local.status !== 'running' || local.coordinator === this.#core.self)) return local
    const remote = await this.#ask({ jobId: id })
    return freshest([...(local != null ? [local] : []), ...remote.filter(j => j.id === id)])
  }

  /** Every job this node or any alive member knows, freshest record of each. */
  async jobs (): Promise<JobView[]> {
    const all = [...this.#core.jobs(), ...this.#endedViews(), ...await this.#ask({})]
    const byId = new Map<string, JobView[]>()
    for (const j of all) byId.set(j.id, [...(byId.get(j.id) ?? []), j])
    return [...byId.values()].map(views => freshest(views) as JobView)
  }

  stats (): WorkStats {
    return {
      ...this.#core.stats(),
      transport: this.#transport.stats(),
      threads: { ...this.#threadStats },
      slots: { total: this.#slots, running: this.#active, waiting: this.#waiting.filter(w => !w.controller.signal.aborted).length },
      lookups: { ...this.#lookupStats }
    }
  }

  // ---------------------------------------------------------------------------

  #receive (from: string, msg: WireMessage): void {
    if (msg.type === 'job-query') {
      const jobs = msg.jobId != null
        ? [this.localJob(msg.jobId)].filter(j => j != null)
        : [...this.#core.jobs(), ...this.#endedViews()]
      this.#transport.send(from, { type: 'job-info', qid: msg.qid, jobs })
      return
    }
    if (msg.type === 'job-info') {
      this.#lookups.get(msg.qid)?.(from, msg.jobs)
      return
    }
    if (msg.type === 'job-end') {
      // Only the job's coordinator ends it: the one this node knows, or for a
      // job it never heard of, the one the record names (workloads/authority.ts).
      const coordinator = this.#core.coordinatorOf(msg.job.id) ?? msg.job.coordinator
      if (from === coordinator && msg.job.coordinator === from) this.#remember(msg.job)
      else this.#lookupStats.endsRejected++
    }
    if (msg.type === 'result') this.#progress(msg.jobId)
    if (msg.type === 'offer' && this.#registry.get(msg.workload)?.cpuBound === true) this.#pool.warm(this.#slots)
    this.#drive(now => this.#core.receive(now, from, msg))
  }

  /**
   * Asks every alive member; resolves with the answers within LOOKUP_TIMEOUT_MS.
   * Any member may answer about any job, so for each job only the records its
   * coordinator sent are kept when it answered; the others' (replicas, nodes
   * that cached the end) count only when it did not (it failed, or left).
   */
  async #ask (query: { jobId?: string }): Promise<JobView[]> {
    const targets = this.#alive
    if (targets.length === 0 || this.#stopped) return []
    const qid = this.#nextQid++
    const answers: Array<{ from: string, job: JobView }> = []
    let pending = targets.length
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, LOOKUP_TIMEOUT_MS)
      this.#lookups.set(qid, (from, jobs) => {
        for (const job of jobs) answers.push({ from, job })
        if (--pending <= 0) { clearTimeout(timer); resolve() }
      })
      for (const to of targets) this.#transport.send(to, { type: 'job-query', qid, ...query })
    })
    this.#lookups.delete(qid)
    const fromCoordinator = new Set(answers.filter(a => a.from === a.job.coordinator).map(a => a.job.id))
    const kept = answers.filter(a => a.from === a.job.coordinator || !fromCoordinator.has(a.job.id))
    this.#lookupStats.answersFromOthers += kept.filter(a => a.from !== a.job.coordinator).length
    return kept.map(a => a.job)
  }

  /** A result arrived for a job submitted here: a throttled `progress` event on its handle. */
  #progress (jobId: string): void {
    const handle = this.#handles.get(jobId)
    if (handle == null) return
    const now = this.#clock()
    if (now - (this.#lastProgress.get(jobId) ?? -Infinity) < PROGRESS_INTERVAL_MS) return
    this.#lastProgress.set(jobId, now)
    queueMicrotask(() => {
      const view = this.#core.job(jobId)
      if (view?.status === 'running' && this.#handles.get(jobId) === handle) handle.update(view)
    })
  }

  #remember (view: JobView): void {
    this.#forget(view.id)
    const bytes = JSON.stringify(view).length
    this.#ended.set(view.id, { view, bytes })
    this.#endedBytes += bytes
    while (this.#ended.size > ENDED_CACHE || (this.#endedBytes > ENDED_CACHE_BYTES && this.#ended.size > 1)) {
      this.#forget(this.#ended.keys().next().value as string)
    }
    for (const waiter of this.#endWaiters.get(view.id) ?? []) waiter(view)
  }

  #forget (id: string): void {
    const entry = this.#ended.get(id)
    if (entry == null) return
    this.#ended.delete(id)
    this.#endedBytes -= entry.bytes
  }

  #endedViews (): JobView[] {
    return [...this.#ended.values()].map(e => e.view)
  }

  #drive (input: (now: number) => WorkEffect[]): void {
    if (this.#stopped) return
    this.#perform(input(this.#clock()))
    this.#schedule()
  }

  #perform (effects: WorkEffect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'publish': this.#transport.publish(e.msg); break
        case 'send': this.#transport.send(e.to, e.msg); break
        case 'run': this.#run(e.jobId, e.workload, e.index, e.input); break
        case 'abort': {
          const key = `${e.jobId}/${e.index}`
          this.#running.get(key)?.abort(new Error('lease revoked'))
          this.#running.delete(key)
          break
        }
        case 'job': {
          if (e.job.status !== 'running') this.#remember(e.job)
          const handle = this.#handles.get(e.job.id)
          if (handle != null) {
            handle.update(e.job)
            if (e.job.status !== 'running') {
              this.#handles.delete(e.job.id)
              this.#lastProgress.delete(e.job.id)
            }
          }
          break
        }
      }
    }
  }

  /**
   * A granted task: runs now if fewer than `slots` run, else waits its turn
   * here. The core is given `slots` extra (PREFETCH_PER_SLOT): a worker holds
   * its next task while the current one runs, so a CPU never waits a claim
   * round trip between two tasks. Waiting tasks keep their leases renewed.
   */
  #run (jobId: string, workloadName: string, index: number, input: unknown): void {
    const key = `${jobId}/${index}`
    const controller = new AbortController()
    this.#running.set(key, controller)
    const start = (): void => {
      this.#active++
      this.#start(key, controller, jobId, workloadName, index, input)
    }
    if (this.#active < this.#slots) start()
    else this.#waiting.push({ controller, start })
  }

  /** A run ended (or was aborted): the next waiting task may start. */
  #runEnded (): void {
    this.#active--
    while (this.#active < this.#slots && this.#waiting.length > 0) {
      const next = this.#waiting.shift()!
      if (!next.controller.signal.aborted) next.start()
    }
  }

  #start (key: string, controller: AbortController, jobId: string, workloadName: string, index: number, input: unknown): void {
    const signal = controller.signal
    let ended = false
    const end = (): void => { if (!ended) { ended = true; this.#runEnded() } }
    signal.addEventListener('abort', end, { once: true })
    const finish = (outcome: { ok: true, value: unknown } | { ok: false, error: string }): void => {
      end()
      if (signal.aborted || this.#running.get(key) !== controller) return // aborted: never reported
      this.#running.delete(key)
      this.#drive(now => this.#core.taskFinished(now, jobId, index, outcome))
      this.#progress(jobId) // a job submitted here whose task ran here
    }
    const workload = this.#registry.get(workloadName)
    if (workload == null) {
      // only broadcast tasks are claimed without the workload: answer why
      queueMicrotask(() => { finish({ ok: true, value: { error: `workload "${workloadName}" is not enabled on this node` } }) })
      return
    }
    const onLoop = async (): Promise<unknown> => {
      this.#threadStats.loopRuns++
      return await workload.run(input, { signal, node: this.#name, tags: this.#tags })
    }
    const run = workload.cpuBound === true
      ? this.#pool.run(workloadName, input, this.#name, signal)
        .then(value => { this.#threadStats.threadRuns++; return value })
        .catch(async (err: unknown) => { if (err instanceof ThreadsUnavailableError) return await onLoop(); throw err })
      : onLoop()
    run.then(
      value => { finish({ ok: true, value: value ?? null }) },
      (err: unknown) => { finish({ ok: false, error: err instanceof Error ? err.message : String(err) }) }
    )
  }

  #schedule (): void {
    if (this.#stopped) return
    clearTimeout(this.#timer)
    const delay = Math.max(0, this.#core.nextDeadline() - this.#clock())
    if (!Number.isFinite(delay)) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#drive(now => this.#core.tick(now))
    }, Math.min(delay, 60_000))
  }
}

/** The most advanced record of one job: ended beats running, then the higher epoch, then more tasks done. */
function freshest (views: JobView[]): JobView | undefined {
  let best: JobView | undefined
  for (const v of views) {
    if (best == null) { best = v; continue }
    const rank = (j: JobView): number[] => [j.status === 'running' ? 0 : 1, j.epoch, j.stats.done]
    const [a, b] = [rank(v), rank(best)]
    const i = a.findIndex((x, k) => x !== b[k])
    if (i >= 0 && a[i] > b[i]) best = v
  }
  return best
}
