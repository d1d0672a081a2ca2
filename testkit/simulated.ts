/**
 * The `simulated` test cluster: the simulator the project's own tests use
 * (testkit/sim/): every agent's real membership and work cores, each in the
 * agent's driver, on one simulated network with a logical clock. Faults are
 * the network's and the processes' (cut links, lost or late messages,
 * frozen, crashed, restarted or departed agents); waits advance logical time
 * until their condition holds, so nothing sleeps and a run takes a fraction
 * of the time it simulates. The same seed gives the same run.
 */
import { toMemberView } from '../agent/member-view.ts'
import type { MemberId } from '../membership/index.ts'
import { SimCluster } from './sim/cluster.ts'
import { SimWork } from './sim/work-layer.ts'
import { type JobView, type TestCluster, type TestClusterOptions, type TestEvent, type Views, type WaitOptions } from './types.ts'
import { checkIndex, DEFAULT_TIMEOUT_MS, oneAliveSet, testEvent, timedOut, untilConverged, untilMemberIs } from './waits.ts'

/** How often (logical ms) a wait looks at the views. */
const CHECK_EVERY_MS = 100

export class SimulatedTestCluster implements TestCluster {
  readonly mode = 'simulated' as const
  readonly size: number
  readonly seed: number
  readonly #sim: SimCluster
  readonly #work: SimWork
  readonly #events: TestEvent[] = []
  /** Agents crashed, frozen or gone by a command here (not yet restarted or resumed). */
  readonly #down = new Set<number>()

  constructor (opts: TestClusterOptions) {
    this.size = opts.size
    this.seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32)
    this.#sim = new SimCluster({ seed: this.seed, size: opts.size, profile: opts.profile ?? 'lan', recordEvents: false })
    this.#work = new SimWork(this.#sim)
    const index = new Map<MemberId, number>(Array.from({ length: opts.size }, (_, i) => [this.#sim.idOf(i), i]))
    this.#sim.onEvent(e => {
      const m = e.event.member
      this.#events.push(testEvent(e.at, index.get(e.observer) ?? -1, e.event.type, m))
    })
    this.#sim.start()
  }

  #id (i: number): MemberId {
    return this.#sim.idOf(checkIndex(i, this.size))
  }

  #views (): Views {
    const now = this.#sim.now
    return Array.from({ length: this.size }, (_, i) => {
      const id = this.#sim.idOf(i)
      if (this.#sim.truth.get(id) !== 'up') return undefined
      return this.#sim.core(id).members().map(m => toMemberView(m, now, [], now))
    })
  }

  now (): number {
    return this.#sim.now
  }

  peerId (i: number): string {
    return this.#id(i)
  }

  async views (): Promise<Views> {
    return this.#views()
  }

  async until (pred: (views: Views) => boolean, opts: WaitOptions = {}): Promise<Views> {
    const end = this.#sim.now + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    for (;;) {
      const views = this.#views()
      if (pred(views)) return views
      if (this.#sim.now >= end) throw timedOut(opts, views, ` of simulated time, at ${this.#sim.now} ms (seed ${this.seed}; replay with createTestCluster({ …, seed: ${this.seed} }))`)
      this.#sim.runFor(Math.min(CHECK_EVERY_MS, end - this.#sim.now))
    }
  }

  async converged (opts: WaitOptions = {}): Promise<Views> {
    // Agents still starting count as up: only a crash, a freeze or a leave takes one out.
    return await untilConverged(this, this.#down, i => this.#sim.idOf(i), opts)
  }

  async memberIs (observer: number, member: number, status: string, cause?: string, opts: WaitOptions = {}): Promise<Views> {
    return await untilMemberIs(this, observer, member, this.#id(member), status, cause, opts)
  }

  async partition (a: number[], b: number[]): Promise<void> {
    this.#sim.net.partition(a.map(i => this.#id(i)), b.map(i => this.#id(i)))
  }

  async cut (a: number, b: number, opts: { oneWay?: boolean } = {}): Promise<void> {
    this.#sim.net.partition([this.#id(a)], [this.#id(b)], opts)
  }

  async heal (): Promise<void> {
    this.#sim.net.heal()
  }

  async loss (a: number, b: number, ratio: number): Promise<void> {
    if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`a loss ratio is from 0 to 1, got ${ratio}`)
    this.#sim.net.setLinkLoss(this.#id(a), this.#id(b), ratio)
  }

  async delay (a: number, b: number, ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`a delay is 0 ms or more, got ${ms}`)
    this.#sim.net.setLinkDelay(this.#id(a), this.#id(b), ms)
  }

  async freeze (i: number): Promise<void> { this.#sim.freeze(this.#id(i)); this.#down.add(i) }
  async resume (i: number): Promise<void> { this.#sim.resume(this.#id(i)); this.#down.delete(i) }
  async crash (i: number): Promise<void> { this.#sim.crash(this.#id(i), { refuse: true }); this.#down.add(i) }
  async restart (i: number): Promise<void> { this.#sim.restart(this.#id(i)); this.#down.delete(i) }
  async leave (i: number): Promise<void> { this.#sim.leave(this.#id(i)); this.#down.add(i) }

  async events (): Promise<TestEvent[]> {
    return this.#events.map(e => ({ ...e }))
  }

  async submit (on: number, workload: string, input: unknown): Promise<string> {
    return this.#work.submit(this.#id(on), workload, input)
  }

  async jobDone (id: string, opts: WaitOptions = {}): Promise<JobView> {
    await this.until(() => this.#work.ended(id) != null, { what: `job ${id} ended`, ...opts })
    return this.#work.ended(id) as JobView
  }

  async advance (ms: number): Promise<void> {
    this.#sim.runFor(ms)
  }

  async runUntilIdle (opts: WaitOptions = {}): Promise<Views> {
    return await this.until(views => !this.#sim.upIds().some(id => this.#work.running(id) > 0) && oneAliveSet(views),
      { what: 'no job running and one view of who is alive', ...opts })
  }

  async stop (): Promise<void> {}
}
