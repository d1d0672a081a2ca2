/**
 * The `processes` test cluster: one real `agent` process each (this
 * package's own binary, on the Node running the test), on loopback, each
 * with its key in a temporary --data-dir so that a restarted agent is the
 * same member. Every fault is the real one: freeze is SIGSTOP, resume
 * SIGCONT, crash kill -9; cut links and partitions go to the agents started
 * with --test-faults (agent/test-faults.ts), which drop a cut peer's messages
 * on arrival, seen by both ends as silence. The views, events and jobs are
 * read from each agent's control API, as a user would read them.
 */
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { callApi } from '../agent/api-client.ts'
import { MEMBER_EVENT_TYPES, type MemberView } from '../agent/member-view.ts'
import { killAgent, launchAgent, type AgentProcess } from './agent-process.ts'
import { watchEvents } from './event-stream.ts'
import { needsSimulatedNetwork, type JobView, type TestCluster, type TestClusterOptions, type TestEvent, type Views, type WaitOptions } from './types.ts'
import { CutLinks } from './cut-links.ts'
import { startAgents } from './start-agents.ts'
import { checkIndex, oneAliveSet, pollJob, pollUntil, testEvent, untilConverged, untilMemberIs } from './waits.ts'

const DEFAULT_PROFILE = 'local'
/** How long an agent may take to print its addresses (agents start together, on few cores). */
const START_TIMEOUT_MS = 30_000
/** A poll of one agent's view that takes longer than this leaves its last view in place. */
const POLL_TIMEOUT_MS = 2000

/**
 * The agent this package ships: the TypeScript sources when the kit runs
 * from them (this repository), the package's bin when it runs compiled
 * (dist/testkit/ in an installed package).
 */
function packagedAgent (): string {
  const here = import.meta.url
  return fileURLToPath(new URL(here.endsWith('.ts') ? '../agent/main.ts' : '../../agent/bin.js', here))
}

export class ProcessesTestCluster implements TestCluster {
  readonly mode = 'processes' as const
  readonly size: number
  readonly #opts: TestClusterOptions
  readonly #agents: Array<AgentProcess | undefined> = []
  readonly #dirs: string[] = []
  readonly #frozen = new Set<number>()
  readonly #cuts: CutLinks
  /** What each agent was last told to drop (peer ids, sorted and joined). */
  readonly #told = new Map<number, string>()
  #lastViews: Views = []
  readonly #events: TestEvent[] = []
  readonly #watches = new AbortController()
  readonly #t0 = performance.now()

  private constructor (opts: TestClusterOptions) {
    this.size = opts.size
    this.#opts = opts
    this.#cuts = new CutLinks(opts.size)
  }

  static async create (opts: TestClusterOptions): Promise<ProcessesTestCluster> {
    const cluster = new ProcessesTestCluster(opts)
    await startAgents(opts.size, cluster.#dirs, async i => { await cluster.#start(i) }, async () => { await cluster.stop() })
    return cluster
  }

  async #start (i: number): Promise<void> {
    // It joins every agent running that is not cut off from it.
    const join = this.#running().filter(k => k !== i && !this.#cuts.has(k, i)).flatMap(k => this.#agents[k]!.multiaddrs.slice(0, 1))
    // A restarted agent drops what it is cut from from its start (its cuts exist only once every agent has a peer id).
    const dropped = this.#agents[i] == null ? [] : this.#droppedBy(i)
    const extra = typeof this.#opts.agentArgs === 'function' ? this.#opts.agentArgs(i) : this.#opts.agentArgs ?? []
    const args = [this.#opts.agentEntry ?? packagedAgent(), '--log-format', 'text', '--name', `agent-${i}`, '--rpc', '127.0.0.1:0',
      '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', this.#dirs[i], '--profile', this.#opts.profile ?? DEFAULT_PROFILE, '--test-faults',
      ...dropped.flatMap(p => ['--test-drop-from', p]), ...join.flatMap(a => ['--join', a]), ...extra]
    const agent = await launchAgent(process.execPath, args, { name: `agent-${i}`, startTimeoutMs: START_TIMEOUT_MS })
    this.#agents[i] = agent
    this.#told.set(i, dropped.join())
    await watchEvents(agent.rpc, (type, m) => {
      if ((MEMBER_EVENT_TYPES as readonly string[]).includes(type)) this.#events.push(testEvent(this.now(), i, type, m))
    }, this.#watches.signal)
  }

  /** Indexes of the agents whose process runs (frozen or not). */
  #running (): number[] {
    return this.#agents.flatMap((a, i) => a != null && a.child.exitCode == null && a.child.signalCode == null ? [i] : [])
  }

  /** Agent i, running and not frozen: one that can answer. */
  #answering (i: number): AgentProcess {
    const agent = this.#agents[checkIndex(i, this.size)]
    if (agent == null || !this.#running().includes(i)) throw new Error(`agent ${i} is not running`)
    if (this.#frozen.has(i)) throw new Error(`agent ${i} is frozen: resume it first`)
    return agent
  }

  #down (): Set<number> {
    const running = this.#running()
    return new Set(Array.from({ length: this.size }, (_, i) => i).filter(i => !running.includes(i) || this.#frozen.has(i)))
  }

  async #poll (): Promise<Views> {
    const down = this.#down()
    this.#lastViews = await Promise.all(Array.from({ length: this.size }, async (_, i) => {
      if (down.has(i)) return undefined
      try {
        return await callApi({ rpc: this.#agents[i]!.rpc }, 'GET', '/v1/members', undefined, undefined, POLL_TIMEOUT_MS) as MemberView[]
      } catch {
        return this.#lastViews[i]
      }
    }))
    return this.#lastViews
  }

  /** The peer ids agent i must drop now, sorted (joined, they are what #told keeps). */
  #droppedBy (i: number): string[] {
    return this.#cuts.into(i).map(from => this.peerId(from)).sort()
  }

  /** Tells each agent that can answer whom to drop now, where that changed. */
  async #tellCuts (): Promise<void> {
    await Promise.all(this.#running().filter(i => !this.#frozen.has(i)).map(async i => {
      const peers = this.#droppedBy(i)
      const key = peers.join()
      if (this.#told.get(i) === key) return
      await callApi({ rpc: this.#agents[i]!.rpc }, 'PUT', '/v1/test/drop-from', { peers })
      this.#told.set(i, key)
    }))
  }

  /** The process of agent i, to reach it as a user would: its control API (`rpc`), its addresses, its output. */
  process (i: number): AgentProcess {
    const agent = this.#agents[checkIndex(i, this.size)]
    if (agent == null) throw new Error(`agent ${i} has not started`)
    return agent
  }

  now (): number { return Math.round(performance.now() - this.#t0) }
  peerId (i: number): string { return this.process(i).peerId }
  async views (): Promise<Views> { return await this.#poll() }

  async until (pred: (views: Views) => boolean, opts: WaitOptions = {}): Promise<Views> {
    return await pollUntil(async () => await this.#poll(), pred, opts)
  }

  async converged (opts: WaitOptions = {}): Promise<Views> {
    return await untilConverged(this, this.#down(), i => this.peerId(i), opts)
  }

  async memberIs (observer: number, member: number, status: string, cause?: string, opts: WaitOptions = {}): Promise<Views> {
    return await untilMemberIs(this, observer, member, this.peerId(member), status, cause, opts)
  }

  async partition (a: number[], b: number[]): Promise<void> {
    this.#cuts.partition(a, b)
    await this.#tellCuts()
  }

  async cut (a: number, b: number, opts: { oneWay?: boolean } = {}): Promise<void> {
    this.#cuts.cut(a, b, opts)
    await this.#tellCuts()
  }

  async heal (): Promise<void> {
    this.#cuts.heal()
    await this.#tellCuts()
  }

  async loss (_a: number, _b: number, _ratio: number): Promise<void> { throw needsSimulatedNetwork('loss') }
  async delay (_a: number, _b: number, _ms: number): Promise<void> { throw needsSimulatedNetwork('delay') }

  async freeze (i: number): Promise<void> {
    this.#answering(i).child.kill('SIGSTOP')
    this.#frozen.add(i)
  }

  async resume (i: number): Promise<void> {
    if (!this.#frozen.has(checkIndex(i, this.size))) throw new Error(`agent ${i} is not frozen`)
    this.#agents[i]!.child.kill('SIGCONT')
    this.#frozen.delete(i)
    // Cut or healed while it slept: it learns the links as they are now.
    await this.#tellCuts()
  }

  async crash (i: number): Promise<void> {
    this.#frozen.delete(i)
    await killAgent(this.process(i))
  }

  async restart (i: number): Promise<void> {
    if (this.#running().includes(checkIndex(i, this.size))) throw new Error(`agent ${i} is running: crash or leave it first`)
    await this.#start(i)
  }

  async leave (i: number): Promise<void> {
    const agent = this.#answering(i)
    await callApi({ rpc: agent.rpc }, 'POST', '/v1/leave')
    await agent.exited
  }

  async events (): Promise<TestEvent[]> { return this.#events.map(e => ({ ...e })) }

  async submit (on: number, workload: string, input: unknown): Promise<string> {
    const job = await callApi({ rpc: this.#answering(on).rpc }, 'POST', '/v1/jobs', { workload, input }) as { id: string }
    return job.id
  }

  async jobDone (id: string, opts: WaitOptions = {}): Promise<JobView> {
    return await pollJob(id, async () => {
      const asked = this.#running().find(i => !this.#frozen.has(i))
      // One agent is enough: it asks every alive member for the job.
      return asked == null ? undefined : await callApi({ rpc: this.#agents[asked]!.rpc }, 'GET', `/v1/jobs/${id}`).catch(() => undefined) as JobView | undefined
    }, async () => await this.#poll(), opts)
  }

  async advance (ms: number): Promise<void> {
    await new Promise(resolve => setTimeout(resolve, ms))
  }

  async runUntilIdle (opts: WaitOptions = {}): Promise<Views> {
    let busy = true
    return await pollUntil(async () => {
      const views = await this.#poll()
      busy = await this.#anyTaskRunning(views)
      return views
    }, views => !busy && oneAliveSet(views), { what: 'no job running and one view of who is alive', ...opts })
  }

  /** Whether an agent that answers runs a task now (one that does not answer counts as busy). */
  async #anyTaskRunning (views: Views): Promise<boolean> {
    const running = await Promise.all(views.map(async (v, i) => {
      if (v == null) return 0
      const stats = await callApi({ rpc: this.#agents[i]!.rpc }, 'GET', '/v1/stats', undefined, undefined, POLL_TIMEOUT_MS).catch(() => undefined) as { work: { slots: { running: number } } } | undefined
      return stats?.work.slots.running ?? 1
    }))
    return running.some(n => n > 0)
  }

  async stop (): Promise<void> {
    this.#watches.abort()
    await Promise.all(this.#agents.map(async a => { if (a != null) await killAgent(a) }))
    await Promise.all(this.#dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
  }
}
