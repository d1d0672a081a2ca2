/**
 * The `in-process` test cluster: real agents (createAgent: libp2p on
 * loopback TCP, the real clock) in the test's own process. Each keeps its key
 * in a temporary --data-dir, so a restarted agent is the same member. Links
 * are cut and sides partitioned by each agent's `acceptFrom` hook
 * (agent/accept-from.ts): a cut peer's messages are dropped on arrival, which
 * the others see as silence, as on a real network. Freezing needs a process
 * of its own (mode `processes`), and real sockets have no per-link loss or
 * delay: those throw UnsupportedError here.
 */
import { rm } from 'node:fs/promises'
import { createAgent, type Agent } from '../agent/agent.ts'
import { MEMBER_EVENT_TYPES } from '../agent/member-view.ts'
import { UnsupportedError, type JobView, type TestCluster, type TestClusterOptions, type TestEvent, type Views, type WaitOptions } from './types.ts'
import { startAgents } from './start-agents.ts'
import { allSeeAlive, DEFAULT_TIMEOUT_MS, oneAliveSet, pollUntil, sees, timedOut, upIndexes } from './waits.ts'

/** Real agents default to the `local` profile (0.5 s probes): detection in seconds, as tests want. */
const DEFAULT_PROFILE = 'local'
const QUIET = { level: 'error' as const, write: () => {} }

export class InProcessTestCluster implements TestCluster {
  readonly mode = 'in-process' as const
  readonly size: number
  readonly #opts: TestClusterOptions
  readonly #agents: Array<Agent | undefined> = []
  readonly #peerIds: string[] = []
  readonly #dirs: string[] = []
  readonly #down = new Set<number>()
  /** Cut links: `${from}>${to}` by agent index. */
  readonly #cuts = new Set<string>()
  readonly #events: TestEvent[] = []
  readonly #t0 = performance.now()

  private constructor (opts: TestClusterOptions) {
    this.size = opts.size
    this.#opts = opts
  }

  static async create (opts: TestClusterOptions): Promise<InProcessTestCluster> {
    const cluster = new InProcessTestCluster(opts)
    await startAgents(opts.size, cluster.#dirs, async i => { await cluster.#start(i) }, async () => { await cluster.stop() })
    return cluster
  }

  async #start (i: number): Promise<void> {
    const seed = this.#agents.find((a, k) => a != null && k !== i)
    const own = typeof this.#opts.agentOptions === 'function' ? this.#opts.agentOptions(i) : this.#opts.agentOptions ?? {}
    const cut = (peerId: string): boolean => this.#cuts.size > 0 && this.#cuts.has(`${this.#peerIds.indexOf(peerId)}>${i}`)
    const agent = createAgent({
      log: QUIET,
      ...own,
      name: `agent-${i}`,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      rpc: false,
      dataDir: this.#dirs[i],
      profile: this.#opts.profile ?? own.profile ?? DEFAULT_PROFILE,
      join: seed != null ? seed.multiaddrs : [],
      acceptFrom: peerId => !cut(peerId) && (own.acceptFrom == null || own.acceptFrom(peerId))
    })
    for (const type of MEMBER_EVENT_TYPES) {
      agent.on(type, m => { this.#events.push({ at: this.now(), observer: i, type, member: m.name, status: m.status, ...(m.cause != null ? { cause: m.cause } : {}) }) })
    }
    await agent.start()
    await this.#opts.setupAgent?.(agent, i)
    this.#agents[i] = agent
    this.#peerIds[i] = agent.peerId
  }

  #index (i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RangeError(`no agent ${i} (the cluster has agents 0 to ${this.size - 1})`)
    return i
  }

  #agent (i: number): Agent {
    const agent = this.#agents[this.#index(i)]
    if (agent == null || !agent.isRunning) throw new Error(`agent ${i} is not running`)
    return agent
  }

  #views (): Views {
    return this.#agents.map(a => a?.isRunning === true ? a.members() : undefined)
  }

  /** Agent i itself (createAgent's API: members(), submit(), services, events), while it runs. */
  agent (i: number): Agent { return this.#agent(i) }

  now (): number { return Math.round(performance.now() - this.#t0) }
  peerId (i: number): string { return this.#peerIds[this.#index(i)] }
  async views (): Promise<Views> { return this.#views() }

  async until (pred: (views: Views) => boolean, opts: WaitOptions = {}): Promise<Views> {
    return await pollUntil(() => this.#views(), pred, opts)
  }

  async converged (opts: WaitOptions = {}): Promise<Views> {
    const up = upIndexes(this.size, this.#down)
    return await this.until(views => allSeeAlive(views, up, i => this.#peerIds[i]), { what: 'every agent that is up sees every one alive', ...opts })
  }

  async memberIs (observer: number, member: number, status: string, cause?: string, opts: WaitOptions = {}): Promise<Views> {
    const about = this.peerId(member)
    return await this.until(views => sees(views, observer, about, status, cause), { what: `agent ${observer} sees agent ${member} ${status}${cause != null ? ` (${cause})` : ''}`, ...opts })
  }

  async partition (a: number[], b: number[]): Promise<void> {
    for (const x of a) for (const y of b) { this.#cuts.add(`${x}>${y}`); this.#cuts.add(`${y}>${x}`) }
  }

  async cut (a: number, b: number, opts: { oneWay?: boolean } = {}): Promise<void> {
    this.#cuts.add(`${a}>${b}`)
    if (opts.oneWay !== true) this.#cuts.add(`${b}>${a}`)
  }

  async heal (): Promise<void> { this.#cuts.clear() }

  async loss (_a: number, _b: number, _ratio: number): Promise<void> { throw new UnsupportedError('loss() needs the simulated network: use mode \'simulated\'') }
  async delay (_a: number, _b: number, _ms: number): Promise<void> { throw new UnsupportedError('delay() needs the simulated network: use mode \'simulated\'') }
  async freeze (_i: number): Promise<void> { throw new UnsupportedError('freeze() needs a process per agent: use mode \'processes\' or \'simulated\'') }
  async resume (_i: number): Promise<void> { throw new UnsupportedError('resume() needs a process per agent: use mode \'processes\' or \'simulated\'') }

  /** The agent stops without a goodbye; its port closes, so the others see connections refused: a crash. */
  async crash (i: number): Promise<void> {
    await this.#agent(i).stop()
    this.#down.add(i)
  }

  async restart (i: number): Promise<void> {
    if (this.#agents[this.#index(i)]?.isRunning === true) throw new Error(`agent ${i} is running: crash or leave it first`)
    await this.#start(i)
    this.#down.delete(i)
  }

  async leave (i: number): Promise<void> {
    await this.#agent(i).leave()
    this.#down.add(i)
  }

  async events (): Promise<TestEvent[]> { return this.#events.map(e => ({ ...e })) }

  async submit (on: number, workload: string, input: unknown): Promise<string> {
    return this.#agent(on).submit(workload, input).id
  }

  async jobDone (id: string, opts: WaitOptions = {}): Promise<JobView> {
    const end = performance.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    for (;;) {
      // One running agent is enough: job() asks every alive member for it.
      const job = await this.#agents.find(a => a?.isRunning === true)?.job(id)
      if (job != null && job.status !== 'running') return job
      if (performance.now() >= end) throw timedOut({ what: `job ${id} ended`, ...opts }, this.#views())
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  async advance (ms: number): Promise<void> {
    await new Promise(resolve => setTimeout(resolve, ms))
  }

  async runUntilIdle (opts: WaitOptions = {}): Promise<Views> {
    return await this.until(views => this.#agents.every(a => a?.isRunning !== true || a.stats().work.slots.running === 0) && oneAliveSet(views),
      { what: 'no job running and one view of who is alive', ...opts })
  }

  async stop (): Promise<void> {
    await Promise.all(this.#agents.map(async a => { if (a?.isRunning === true) await a.stop() }))
    await Promise.all(this.#dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
  }
}
