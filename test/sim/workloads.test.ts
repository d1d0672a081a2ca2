/**
 * Work-claims simulation: 5 work-claims cores on a tiny in-memory bus in
 * logical time, with simulated task durations, crashes and forged messages.
 *
 * Replay a failure exactly with the seed it prints: `SIM_SEED=<seed> node --test test/sim/workloads.test.ts`.
 * `SIM_SEED=random` picks a fresh seed per test.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  builtinWorkloads, createWorkNode, fromPartial,
  type JobView, type MemberId, type Peer, type TaskOutcome, type WorkEffect, type WorkMessage, type WorkNode, type Workload
} from '../../workloads/index.ts'
import { seededRandom } from '../../membership/random.ts'
import { seeded } from './seed.ts'

const DEFAULT_SEED = 0x70b5
const SIZE = 5
const SLOTS = 4
const CONFIG = fromPartial({ slots: SLOTS, leaseMs: 2000, leaseRenewMs: 500, offerIntervalMs: 200, claimTimeoutMs: 1000, maxTaskAttempts: 3, capacityIntervalMs: 100 })
/** How long after a crash membership marks the node failed everywhere (simulated ms). */
const DETECT_MS = 1500
const TICK_MS = 10
const LIMIT_MS = 60_000

const { simulate } = seeded(DEFAULT_SEED, 'node --test test/sim/workloads.test.ts')

/** A workload whose every run throws (in the simulator: reports an error). */
const alwaysThrows: Workload<{ tasks: number }, number, number, number> = {
  kind: 'map',
  description: 'test: every task throws',
  validate: (input) => ({ tasks: Number((input as { tasks: number }).tasks) }),
  split: ({ tasks }) => Array.from({ length: tasks }, (_, i) => i),
  run: async () => { throw new Error('boom') },
  reduce: (rs) => rs.length
}

/** Simulated runs: a duration in logical ms and an outcome, instead of calling `run`. */
function simulatedRun (workload: string, input: unknown): { ms: number, outcome: TaskOutcome } {
  if (workload === 'sleep') return { ms: (input as { ms: number }).ms, outcome: { ok: true, value: 1 } }
  if (workload === 'always-throws') return { ms: 20, outcome: { ok: false, error: 'boom' } }
  throw new Error(`no simulation for ${workload}`)
}

interface Scheduled { at: number, seq: number, run: () => void }

class Sim {
  readonly random: (() => number)
  readonly nodes = new Map<MemberId, WorkNode>()
  readonly up = new Set<MemberId>()
  readonly names = new Map<MemberId, string>()
  readonly views = new Map<MemberId, Map<string, JobView>>()
  readonly violations: string[] = []
  /** Runs in progress per node: `${jobId}/${index}` → token. */
  readonly runs = new Map<MemberId, Map<string, number>>()
  now = 0
  #queue: Scheduled[] = []
  #seq = 0
  #token = 0

  /** Members alive in the view that run no core (a forger). Messages to them are dropped. */
  readonly extras: Set<MemberId>

  constructor (seed: number, extras: MemberId[] = []) {
    this.extras = new Set(extras)
    this.random = seededRandom(seed)
    const registry = builtinWorkloads()
    registry.set('always-throws', alwaysThrows)
    for (let i = 1; i <= SIZE; i++) {
      const id = `peer-${i}`
      this.names.set(id, `n${i}`)
      this.nodes.set(id, createWorkNode({ self: { id, name: `n${i}` }, config: CONFIG, registry, random: seededRandom(seed * 31 + i) }))
      this.up.add(id)
      this.runs.set(id, new Map())
      this.views.set(id, new Map())
    }
    this.#publishMembership()
    for (let t = 0; t < LIMIT_MS; t += TICK_MS) {
      this.schedule(t, () => {
        for (const id of this.up) this.perform(id, this.nodes.get(id)!.tick(this.now))
      })
    }
  }

  peers (): Peer[] {
    return [
      ...[...this.nodes.keys()].map(id => ({ id, name: this.names.get(id)!, alive: this.up.has(id), tags: {} })),
      ...[...this.extras].map(id => ({ id, name: id, alive: true, tags: {} }))
    ]
  }

  #publishMembership (): void {
    const peers = this.peers()
    for (const id of this.up) this.perform(id, this.nodes.get(id)!.members(this.now, peers))
  }

  schedule (at: number, run: () => void): void {
    const item = { at, seq: this.#seq++, run }
    // Insertion into a sorted array (binary search): enough for a few thousand events.
    let lo = 0
    let hi = this.#queue.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const m = this.#queue[mid]
      if (m.at < at || (m.at === at && m.seq < item.seq)) lo = mid + 1
      else hi = mid
    }
    this.#queue.splice(lo, 0, item)
  }

  latency (): number {
    return 1 + Math.floor(this.random() * 5)
  }

  deliver (from: MemberId, to: MemberId, msg: WorkMessage): void {
    this.schedule(this.now + this.latency(), () => {
      if (!this.up.has(to) || !(this.up.has(from) || this.extras.has(from))) return // a crashed sender's in-flight messages die with its streams
      this.perform(to, this.nodes.get(to)!.receive(this.now, from, msg))
    })
  }

  perform (id: MemberId, effects: WorkEffect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'publish':
          for (const other of this.up) if (other !== id) this.deliver(id, other, e.msg)
          break
        case 'send':
          this.deliver(id, e.to, e.msg)
          break
        case 'run': {
          const runs = this.runs.get(id)!
          const key = `${e.jobId}/${e.index}`
          const token = ++this.#token
          runs.set(key, token)
          if (runs.size > SLOTS) this.violations.push(`${id} runs ${runs.size} tasks at ${this.now} ms (slots ${SLOTS})`)
          const { ms, outcome } = simulatedRun(e.workload, e.input)
          this.schedule(this.now + ms, () => {
            if (!this.up.has(id) || runs.get(key) !== token) return
            runs.delete(key)
            this.perform(id, this.nodes.get(id)!.taskFinished(this.now, e.jobId, e.index, outcome))
          })
          break
        }
        case 'abort':
          this.runs.get(id)!.delete(`${e.jobId}/${e.index}`)
          break
        case 'job':
          this.views.get(id)!.set(e.job.id, e.job)
          break
      }
    }
  }

  submit (on: MemberId, workload: string, input: unknown): string {
    const { jobId, effects } = this.nodes.get(on)!.submit(this.now, workload, input)
    this.perform(on, effects)
    return jobId
  }

  /** kill -9: the node stops at once; membership marks it failed DETECT_MS later. */
  crash (id: MemberId): void {
    this.up.delete(id)
    this.runs.get(id)!.clear()
    this.schedule(this.now + DETECT_MS, () => this.#publishMembership())
  }

  /** Runs until `done()` or the time limit. */
  runUntil (done: () => boolean, limitMs = LIMIT_MS): void {
    while (this.#queue.length > 0 && !done()) {
      const next = this.#queue.shift()!
      if (next.at > limitMs) break
      this.now = next.at
      next.run()
    }
  }

  /** The job's final view from any live node that ended it. */
  ended (jobId: string): JobView | undefined {
    for (const id of this.up) {
      const view = this.nodes.get(id)!.job(jobId)
      if (view != null && view.status !== 'running') return view
    }
    return undefined
  }

  /** A live node that currently coordinates no job and does not replicate `jobId`. */
  pureWorker (jobId: string, coordinator: MemberId): MemberId {
    for (const id of [...this.up].reverse()) {
      if (id !== coordinator && this.nodes.get(id)!.job(jobId) == null) return id
    }
    throw new Error('no pure worker')
  }
}

function sumPerNode (view: JobView): number {
  return Object.values(view.stats.perNode).reduce((a, b) => a + b, 0)
}

describe('workloads simulation: 5 nodes, sleep job of 200 tasks', () => {
  it('a worker crash mid-job: result exactly 200, reruns counted, perNode sums to 200', simulate(0, (seed) => {
    const sim = new Sim(seed)
    const coordinator = 'peer-3'
    const jobId = sim.submit(coordinator, 'sleep', { tasks: 200, ms: 200 })
    const victim = sim.pureWorker(jobId, coordinator)
    // Crash it mid-job, at the first moment from 700 ms on when it runs tasks.
    const crashWhenBusy = (): void => {
      if (sim.runs.get(victim)!.size > 0) sim.crash(victim)
      else sim.schedule(sim.now + 1, crashWhenBusy)
    }
    sim.schedule(700, crashWhenBusy)
    sim.runUntil(() => sim.ended(jobId) != null)
    const view = sim.ended(jobId)
    assert.ok(view != null, `job ended by ${sim.now} ms`)
    assert.equal(view.status, 'done', String(view.error))
    assert.equal(view.result, 200)
    assert.equal(view.stats.tasks, 200)
    assert.ok(view.stats.rerun > 0, 'the crashed worker\'s tasks were rerun')
    assert.equal(sumPerNode(view), 200)
    assert.equal(Object.keys(view.stats.perNode).length, SIZE, `every node took part: ${JSON.stringify(view.stats.perNode)}`)
    assert.deepEqual(sim.violations, [])
  }))

  it('a coordinator crash mid-job: the replica takes over and finishes with exactly 200', simulate(1, (seed) => {
    const sim = new Sim(seed)
    const coordinator = 'peer-3'
    const jobId = sim.submit(coordinator, 'sleep', { tasks: 200, ms: 200 })
    sim.schedule(700, () => sim.crash(coordinator))
    sim.runUntil(() => sim.ended(jobId) != null)
    const view = sim.ended(jobId)
    assert.ok(view != null, `job ended by ${sim.now} ms`)
    assert.equal(view.status, 'done', String(view.error))
    assert.notEqual(view.coordinator, coordinator)
    assert.equal(view.epoch, 2)
    assert.equal(view.result, 200)
    assert.equal(sumPerNode(view), 200)
    // Every live node heard the end (job-end on the topic) and the takeover node reports it.
    assert.equal(sim.views.get(view.coordinator)!.get(jobId)?.status, 'done')
    assert.deepEqual(sim.violations, [])
  }))

  it('a task that always throws: the job fails with its error after maxTaskAttempts runs', simulate(2, (seed) => {
    const sim = new Sim(seed)
    const jobId = sim.submit('peer-1', 'always-throws', { tasks: 5 })
    sim.runUntil(() => sim.ended(jobId) != null)
    const view = sim.ended(jobId)
    assert.ok(view != null, `job ended by ${sim.now} ms`)
    assert.equal(view.status, 'failed')
    assert.match(String(view.error), /failed 3 times: boom/)
    assert.equal(view.result, null)
    assert.deepEqual(sim.violations, [])
  }))

  it('forged renewals, releases and results from a member not holding the task are ignored and counted', simulate(3, (seed) => {
    // The forger is an alive member that runs no core: it never holds a lease, so all it sends is forged.
    const forger = 'intruder'
    const sim = new Sim(seed, [forger])
    const coordinator = 'peer-3'
    const jobId = sim.submit(coordinator, 'sleep', { tasks: 200, ms: 200 })
    const forge = (msg: WorkMessage): void => sim.perform(forger, [{ kind: 'send', to: coordinator, msg }])
    for (let i = 0; i < 10; i++) forge({ type: 'result', jobId, epoch: 1, index: i, ok: true, value: 1000 })
    forge({ type: 'renew', jobId, epoch: 1, tasks: [10, 11, 12, 13, 14] })
    forge({ type: 'release', jobId, epoch: 1, tasks: [15, 16] })
    forge({ type: 'result', jobId, epoch: 1, index: 9999, ok: true, value: 1 })
    forge({ type: 'claim', jobId, coordinator, epoch: 1, tasks: [9998] })
    // Mid-job: results for every task, counted, leased to others or pending.
    sim.schedule(1500, () => {
      for (let i = 0; i < 200; i++) forge({ type: 'result', jobId, epoch: 1, index: i, ok: true, value: 1000 })
    })
    sim.runUntil(() => sim.ended(jobId) != null)
    const view = sim.ended(jobId)
    assert.ok(view != null, `job ended by ${sim.now} ms`)
    assert.equal(view.status, 'done', String(view.error))
    assert.equal(view.result, 200, 'no forged value was counted')
    assert.equal(sumPerNode(view), 200)
    assert.equal(view.stats.perNode[forger], undefined)
    assert.equal(view.stats.ignored, 10 + 5 + 2 + 1 + 1 + 200)
    assert.equal(sim.nodes.get(coordinator)!.stats().coordinator.ignored, view.stats.ignored)
    assert.deepEqual(sim.violations, [])
  }))
})
