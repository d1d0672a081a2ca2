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
import { needsSimulatedNetwork, UnsupportedError, type JobView, type TestCluster, type TestClusterOptions, type TestEvent, type Views, type WaitOptions } from './types.ts'
import { CutLinks } from './cut-links.ts'
import { startAgents } from './start-agents.ts'
import { checkIndex, oneAliveSet, pollJob, pollUntil, testEvent, untilConverged, untilMemberIs } from './waits.ts'

/** Real agents default to the `local` profile (0.5 s probes): detection in seconds, as tests want. */
const DEFAULT_PROFILE = 'local'
const QUIET = { level: 'error' as const, write: () => {} }

export class InProcessTestCluster implements TestCluster {
  readonly mode = 'in-process' as const
  readonly size: number
  readonly #opts: TestClusterOptions
  readonly #agents: Array<Agent | undefined> = []
  readonly #peerIds: string[] = []
  /** Agent index by peer id: what the acceptFrom hook looks up for every message. */
  readonly #indexOf = new Map<string, number>()
  readonly #dirs: string[] = []
  readonly #cuts: CutLinks
  readonly #events: TestEvent[] = []
  readonly #t0 = performance.now()

  private constructor (opts: TestClusterOptions) {
    this.size = opts.size
    this.#opts = opts
    this.#cuts = new CutLinks(opts.size)
  }

  static async create (opts: TestClusterOptions): Promise<InProcessTestCluster> {
    const cluster = new InProcessTestCluster(opts)
    await startAgents(opts.size, cluster.#dirs, async i => { await cluster.#start(i) }, async () => { await cluster.stop() })
    return cluster
  }

  async #start (i: number): Promise<void> {
    const seed = this.#agents.find((a, k) => a != null && k !== i)
    const own = typeof this.#opts.agentOptions === 'function' ? this.#opts.agentOptions(i) : this.#opts.agentOptions ?? {}
    const cut = (peerId: string): boolean => this.#cuts.has(this.#indexOf.get(peerId) ?? -1, i)
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
      agent.on(type, m => { this.#events.push(testEvent(this.now(), i, type, m)) })
    }
    await agent.start()
    await this.#opts.setupAgent?.(agent, i)
    this.#agents[i] = agent
    this.#peerIds[i] = agent.peerId
    this.#indexOf.set(agent.peerId, i)
  }

  #agent (i: number): Agent {
    const agent = this.#agents[checkIndex(i, this.size)]
    if (agent == null || !agent.isRunning) throw new Error(`agent ${i} is not running`)
    return agent
  }

  #views (): Views {
    return this.#agents.map(a => a?.isRunning === true ? a.members() : undefined)
  }

  /** Agent i itself (createAgent's API: members(), submit(), services, events), while it runs. */
  agent (i: number): Agent { return this.#agent(i) }

  now (): number { return Math.round(performance.now() - this.#t0) }
  peerId (i: number): string { return this.#peerIds[checkIndex(i, this.size)] }
  async views (): Promise<Views> { return this.#views() }

  async until (pred: (views: Views) => boolean, opts: WaitOptions = {}): Promise<Views> {
    return await pollUntil(() => this.#views(), pred, opts)
  }

  async converged (opts: WaitOptions = {}): Promise<Views> {
    // Down: crashed or left (a stopped agent), not yet restarted.
    const down = new Set(this.#agents.flatMap((a, i) => a?.isRunning === true ? [] : [i]))
    return await untilConverged(this, down, i => this.#peerIds[i], opts)
  }

  async memberIs (observer: number, member: number, status: string, cause?: string, opts: WaitOptions = {}): Promise<Views> {
    return await untilMemberIs(this, observer, member, this.peerId(member), status, cause, opts)
  }

  async partition (a: number[], b: number[]): Promise<void> { this.#cuts.partition(a, b) }
  async cut (a: number, b: number, opts: { oneWay?: boolean } = {}): Promise<void> { this.#cuts.cut(a, b, opts) }
  async heal (): Promise<void> { this.#cuts.heal() }

  async loss (_a: number, _b: number, _ratio: number): Promise<void> { throw needsSimulatedNetwork('loss') }
  async delay (_a: number, _b: number, _ms: number): Promise<void> { throw needsSimulatedNetwork('delay') }
  async freeze (_i: number): Promise<void> { throw new UnsupportedError('freeze() needs a process per agent: use mode \'processes\' or \'simulated\'') }
  async resume (_i: number): Promise<void> { throw new UnsupportedError('resume() needs a process per agent: use mode \'processes\' or \'simulated\'') }

  /** The agent stops without a goodbye; its port closes, so the others see connections refused: a crash. */
  async crash (i: number): Promise<void> {
    await this.#agent(i).stop()
  }

  async restart (i: number): Promise<void> {
    if (this.#agents[checkIndex(i, this.size)]?.isRunning === true) throw new Error(`agent ${i} is running: crash or leave it first`)
    await this.#start(i)
  }

  async leave (i: number): Promise<void> {
    await this.#agent(i).leave()
  }

  async events (): Promise<TestEvent[]> { return this.#events.map(e => ({ ...e })) }

  async submit (on: number, workload: string, input: unknown): Promise<string> {
    return this.#agent(on).submit(workload, input).id
  }

  async jobDone (id: string, opts: WaitOptions = {}): Promise<JobView> {
    // One running agent is enough: job() asks every alive member for it.
    return await pollJob(id, async () => await this.#agents.find(a => a?.isRunning === true)?.job(id), () => this.#views(), opts)
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
