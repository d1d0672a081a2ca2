/**
 * Work claims on the simulated cluster: every simulated node runs the real
 * work core (workloads/) beside its real membership core, each through the
 * core driver the agent uses (membership/driver.ts). The work core learns
 * the members from its own node's member events through the agent's
 * PeerView, so a crash, a freeze or a partition reaches it exactly as
 * membership detects it; work messages cross the same simulated links
 * (SimNetwork.carry). Tasks take simulated time.
 *
 * The invariants of work claims are checked on every `job` effect of every
 * node (see `violations`).
 */
import { CoreDriver, seededRandom, type Effect, type MemberId } from '../../membership/index.ts'
import {
  builtinWorkloads, createWorkNode, fromPartial, PeerView,
  type JobView, type TaskOutcome, type WorkConfig, type WorkEffect, type WorkMessage, type WorkNode, type Workload
} from '../../workloads/index.ts'
import type { SimCluster, SimNode } from './cluster.ts'

/** A task's simulated run: how long it takes and how it ends. */
export type SimulatedRun = (workload: string, taskInput: unknown) => { ms: number, outcome: TaskOutcome }

/** `sleep` tasks take their `ms` and count 1 each, as the built-in does. */
export const sleepRun: SimulatedRun = (workload, taskInput) => {
  if (workload === 'sleep') return { ms: (taskInput as { ms: number }).ms, outcome: { ok: true, value: 1 } }
  throw new Error(`no simulated run for ${workload}`)
}

export interface SimWorkOptions {
  config?: Partial<WorkConfig>
  registry?: Map<string, Workload>
  run?: SimulatedRun
}

interface WorkNodeState {
  id: MemberId
  /** The membership node of the same boot. */
  node: SimNode
  core: WorkNode
  driver: CoreDriver<WorkEffect>
  peers: PeerView
  /** Runs in progress: `${jobId}/${index}` → token. */
  runs: Map<string, number>
  /** Task ends that came while the process was frozen, handed over on resume. */
  heldEnds: Array<() => void>
}

/** What the checks remember of a job across the cluster. */
interface JobRecord {
  tasks: number
  /** The coordinator of the highest epoch seen, and that epoch. */
  coordinator: MemberId
  epoch: number
  /** The first end seen (status and result); every later end must agree. */
  end?: { status: string, result: unknown, by: MemberId }
  /** The coordinator each member last reported: a takeover is checked against the one it took the job from. */
  seenBy: Map<MemberId, MemberId>
  /** The first coordinator reported at each epoch (for a member that reported nothing before its takeover). */
  byEpoch: Map<number, MemberId>
}

export class SimWork {
  readonly cluster: SimCluster
  readonly config: WorkConfig
  /** Invariant violations, with the simulated time; a run is good when this stays empty. */
  readonly violations: string[] = []
  /** Takeovers at an epoch another member had already taken (each side of a partition). */
  rivalTakeovers = 0
  readonly #nodes = new Map<MemberId, WorkNodeState>()
  readonly #registry: Map<string, Workload>
  readonly #run: SimulatedRun
  readonly #jobs = new Map<string, JobRecord>()
  /** Members named as replicas of each job, from the snapshots and deltas sent (namedReplicas). */
  readonly #replicasNamed = new Map<string, Set<MemberId>>()
  #token = 0

  constructor (cluster: SimCluster, opts: SimWorkOptions = {}) {
    this.cluster = cluster
    this.config = fromPartial(opts.config ?? {})
    this.#registry = opts.registry ?? builtinWorkloads()
    this.#run = opts.run ?? sleepRun
    cluster.onBoot(node => { this.#boot(node) })
    cluster.onEffects((node, effects) => { this.#membershipEffects(node, effects) })
    cluster.onResume(node => { this.#resume(node) })
  }

  /** The work core of node `id` (its current boot). */
  core (id: MemberId): WorkNode {
    const state = this.#nodes.get(id)
    if (state == null) throw new Error(`no work node ${id}`)
    return state.core
  }

  /** Tasks running on `id` now. */
  running (id: MemberId): number {
    return this.#nodes.get(id)?.runs.size ?? 0
  }

  /** Submits a job coordinated by `on`, as the agent's submit does. */
  submit (on: MemberId, workload: string, input: unknown): string {
    const state = this.#nodes.get(on)
    if (state == null) throw new Error(`no work node ${on}`)
    let id = ''
    state.driver.drive(now => {
      const { jobId, effects } = state.core.submit(now, workload, input)
      id = jobId
      return effects
    })
    return id
  }

  /** A message `from` sends that its core never wrote (a forger), to one member or to the topic. */
  forge (from: MemberId, to: MemberId | 'topic', msg: WorkMessage): void {
    if (to === 'topic') this.#publish(from, msg)
    else this.#send(from, to, msg)
  }

  /** The job as ended by any up node, if one has ended it. */
  ended (jobId: string): JobView | undefined {
    for (const id of this.cluster.upIds()) {
      const view = this.#nodes.get(id)?.core.job(jobId)
      if (view != null && view.status !== 'running') return view
    }
    return undefined
  }

  /** Up nodes whose work core still has the job running. */
  stillRunning (jobId: string): MemberId[] {
    return this.cluster.upIds().filter(id => this.#nodes.get(id)?.core.job(jobId)?.status === 'running')
  }

  /** Every member a coordinator of the job ever named as its replica (it has a role, record or not). */
  namedReplicas (jobId: string): ReadonlySet<MemberId> {
    return this.#named(jobId)
  }

  #named (jobId: string): Set<MemberId> {
    let named = this.#replicasNamed.get(jobId)
    if (named == null) this.#replicasNamed.set(jobId, named = new Set())
    return named
  }

  /** Each up node's record of the job (coordinator, epoch, status), for a failure's message. */
  records (jobId: string): string {
    return this.cluster.upIds().flatMap(id => {
      const view = this.#nodes.get(id)?.core.job(jobId)
      return view == null ? [] : [`${id}: ${view.status} under ${view.coordinator} at epoch ${view.epoch}, ${view.stats.done} of ${view.stats.tasks} tasks done`]
    }).join('; ')
  }

  /** The highest epoch any node reported for the job (above 1: taken over). */
  epochOf (jobId: string): number | undefined {
    return this.#jobs.get(jobId)?.epoch
  }

  /** The first end any node reported for the job (status and result). */
  endOf (jobId: string): JobRecord['end'] {
    return this.#jobs.get(jobId)?.end
  }

  #boot (node: SimNode): void {
    const id = node.id
    const previous = this.#nodes.get(id)
    previous?.driver.stop()
    const core = createWorkNode({
      self: { id, name: node.core.self.name, tags: {} },
      config: this.config,
      registry: this.#registry,
      random: seededRandom(Math.floor(this.cluster.random() * 2 ** 32))
    })
    const driver = new CoreDriver<WorkEffect>({
      core,
      perform: effects => { this.#perform(state, effects) },
      timers: this.cluster.timersOf(node),
      accepting: () => this.#current(state) && this.cluster.net.state(id) === 'up'
    })
    const state: WorkNodeState = { id, node, core, driver, peers: new PeerView(), runs: new Map(), heldEnds: [] }
    this.#nodes.set(id, state)
    // as the agent starts its work driver: the members its core knows (itself)
    for (const member of node.core.members()) state.peers.changed(member)
    state.driver.drive(now => core.members(now, state.peers.peers()))
  }

  #current (state: WorkNodeState): boolean {
    return this.#nodes.get(state.id) === state
  }

  /** The agent's perform: member events reach the work core through PeerView, one `members` per batch. */
  #membershipEffects (node: SimNode, effects: Effect[]): void {
    const state = this.#nodes.get(node.id)
    if (state == null || state.node !== node) return
    let changed = false
    for (const effect of effects) {
      if (effect.kind !== 'event') continue
      if (state.peers.changed(effect.event.member, effect.event.type === 'member:reap')) changed = true
    }
    if (changed) state.driver.drive(now => state.core.members(now, state.peers.peers()))
  }

  #resume (node: SimNode): void {
    const state = this.#nodes.get(node.id)
    if (state == null || state.node !== node) return
    state.driver.disarm()
    state.driver.drive(now => state.core.tick(now))
    const ends = state.heldEnds
    state.heldEnds = []
    for (const end of ends) end()
  }

  #perform (state: WorkNodeState, effects: WorkEffect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'publish': this.#publish(state.id, e.msg); break
        case 'send': this.#send(state.id, e.to, e.msg); break
        case 'run': this.#start(state, e.jobId, e.workload, e.index, e.input); break
        case 'abort': state.runs.delete(`${e.jobId}/${e.index}`); break
        case 'job': this.#check(state, e.job); break
        case 'held': break
      }
    }
  }

  /** gossipsub: every member that hears the topic, over the links that reach it. */
  #publish (from: MemberId, msg: WorkMessage): void {
    for (const to of this.#nodes.keys()) if (to !== from) this.#send(from, to, msg)
  }

  #send (from: MemberId, to: MemberId, msg: WorkMessage): void {
    if (msg.type === 'snapshot' || msg.type === 'replicate') {
      for (const id of msg.replicas) this.#named(msg.jobId).add(id)
    }
    const target = this.#nodes.get(to)
    if (target == null) return
    const copy = structuredClone(msg)
    this.cluster.net.carry(from, to, () => {
      if (this.#current(target)) target.driver.drive(now => target.core.receive(now, from, copy))
    })
  }

  #start (state: WorkNodeState, jobId: string, workload: string, index: number, input: unknown): void {
    const key = `${jobId}/${index}`
    const token = ++this.#token
    state.runs.set(key, token)
    if (state.runs.size > this.config.slots) {
      this.violations.push(`${this.cluster.now} ms: ${state.id} runs ${state.runs.size} tasks (slots ${this.config.slots})`)
    }
    const { ms, outcome } = this.#run(workload, input)
    const finish = (): void => {
      if (!this.#current(state) || state.runs.get(key) !== token) return
      state.runs.delete(key)
      state.driver.drive(now => state.core.taskFinished(now, jobId, index, outcome))
    }
    this.cluster.net.schedule(this.cluster.now + ms, () => {
      const net = this.cluster.net.state(state.id)
      if (net === 'frozen') state.heldEnds.push(finish)
      else if (net === 'up') finish()
    })
  }

  /**
   * On every job view a node reports: a task is never counted twice (done and
   * per-member counts never exceed the tasks; a job ends once, with one
   * result, wherever it is seen ending); a coordinator changes only by a
   * takeover from a coordinator the taker's failure detector has failed or
   * seen leave.
   */
  #check (state: WorkNodeState, job: JobView): void {
    const at = `${this.cluster.now} ms: job ${job.id} on ${state.id}`
    let record = this.#jobs.get(job.id)
    if (record == null) this.#jobs.set(job.id, record = { tasks: job.stats.tasks, coordinator: job.coordinator, epoch: job.epoch, seenBy: new Map(), byEpoch: new Map() })
    const earlier = [...record.byEpoch].filter(([epoch]) => epoch < job.epoch).sort((a, b) => b[0] - a[0])[0]?.[1]
    const previous = record.seenBy.get(state.id) ?? earlier ?? record.coordinator
    record.seenBy.set(state.id, job.coordinator)
    if (!record.byEpoch.has(job.epoch)) record.byEpoch.set(job.epoch, job.coordinator)
    const counted = Object.values(job.stats.perNode).reduce((a, b) => a + b, 0)
    if (job.stats.done > record.tasks || counted > record.tasks) {
      this.violations.push(`${at}: ${job.stats.done} done, ${counted} counted per member, of ${record.tasks} tasks`)
    }
    if (job.epoch > record.epoch || (job.epoch === record.epoch && job.coordinator !== record.coordinator)) {
      // checked against the coordinator this member held the job under: a rival that
      // took over at the same epoch elsewhere is not the one it took the job from
      if (job.coordinator !== previous && job.coordinator === state.id) {
        const before = state.node.core.member(previous)?.status
        if (before === 'alive' || before === 'suspect') {
          this.violations.push(`${at}: took over epoch ${job.epoch} from ${previous}, which it still sees ${before}`)
        }
      }
      // Two members that each lost the coordinator (a partition) may both take
      // over at the same epoch; each was allowed by its own failure detector, and
      // the ends must still agree (below).
      if (job.epoch === record.epoch) this.rivalTakeovers++
      record.coordinator = job.coordinator
      record.epoch = job.epoch
    }
    if (job.status === 'running') return
    if (job.status === 'done' && (job.result !== record.tasks || counted !== record.tasks)) {
      this.violations.push(`${at}: done with result ${String(job.result)} and ${counted} counted, of ${record.tasks} tasks`)
    }
    if (record.end == null) {
      record.end = { status: job.status, result: job.result, by: state.id }
    } else if (record.end.status !== job.status || record.end.result !== job.result) {
      this.violations.push(`${at}: ended ${job.status} (${String(job.result)}), but ${record.end.by} ended it ${record.end.status} (${String(record.end.result)})`)
    }
  }
}
