/**
 * The test kit's contract (docs/testkit.md): a cluster of agents addressed by
 * index, faults as commands, and waits that fail with every agent's view.
 */
import type { MemberView } from '../agent/member-view.ts'
import type { JobView } from '../workloads/index.ts'
import type { ProfileName } from '../membership/index.ts'
import type { AgentOptions } from '../agent/config.ts'
import type { Agent } from '../agent/agent.ts'

export type { MemberView } from '../agent/member-view.ts'
export type { JobView } from '../workloads/index.ts'

/**
 * - `simulated`: every agent's cores (membership, work claims) on one simulated
 *   network with a logical clock: no sockets, faster than real time, the same
 *   seed gives the same run.
 * - `in-process`: real agents (libp2p on loopback, the real clock) in this process.
 * - `processes`: one real `agent` process each (this package's binary), on loopback.
 */
export type TestClusterMode = 'simulated' | 'in-process' | 'processes'

export interface TestClusterOptions {
  size: number
  mode: TestClusterMode
  /** `simulated`: the seed of the run (default: random, printed when a wait fails). */
  seed?: number
  /** Membership timing profile (default `lan` simulated, `local` otherwise: 0.5 s probes). */
  profile?: ProfileName
  /** `in-process`: options for each agent's createAgent (tags, slots, timing; the kit sets name, listen, rpc, dataDir and join): one object for all, or one per index. */
  agentOptions?: Partial<AgentOptions> | ((i: number) => Partial<AgentOptions>)
  /** `in-process`: called with each agent once it has started, and again after a restart, before the kit goes on: register your workloads and services here. */
  setupAgent?: (agent: Agent, i: number) => void | Promise<void>
  /** `processes`: more `agent` flags for each agent (`--tag`, `--slots`, `--allow-exec-open`, …): one list for all, or one per index. */
  agentArgs?: string[] | ((i: number) => string[])
  /** `processes`: the script Node runs as the agent. Default: this package's own. */
  agentEntry?: string
}

/** `views[i]`: agent i's member list, the same JSON as its `GET /v1/members` (undefined while it is down or frozen). */
export type Views = Array<MemberView[] | undefined>

export interface WaitOptions {
  /** How long to wait: logical ms in `simulated` mode, real ms otherwise. Default 60,000. */
  timeoutMs?: number
  /** What is awaited, for the failure message. */
  what?: string
}

export interface TestCluster {
  readonly mode: TestClusterMode
  readonly size: number
  /** The seed of a `simulated` run. */
  readonly seed?: number
  /** ms since the cluster started (logical in `simulated` mode). */
  now: () => number
  /** Agent i's peer id: how it appears in the views (`peerId`). */
  peerId: (i: number) => string
  /** Every agent's member list now. */
  views: () => Promise<Views>
  /** Resolves with the views once `pred` holds; on timeout rejects with every agent's last view (and the seed). */
  until: (pred: (views: Views) => boolean, opts?: WaitOptions) => Promise<Views>
  /** Until every agent that is up sees every agent that is up `alive`. */
  converged: (opts?: WaitOptions) => Promise<Views>
  /** Until agent `observer` sees agent `member` with `status` (and `cause`, if given). */
  memberIs: (observer: number, member: number, status: MemberView['status'], cause?: MemberView['cause'], opts?: WaitOptions) => Promise<Views>

  /** No message crosses between the two sides (both ways). */
  partition: (a: number[], b: number[]) => Promise<void>
  /** No message from `a` reaches `b`, nor (unless oneWay) from `b` to `a`. */
  cut: (a: number, b: number, opts?: { oneWay?: boolean }) => Promise<void>
  /** Undoes every partition and cut. */
  heal: () => Promise<void>
  /** `simulated`: this share (0..1) of the messages from `a` to `b` is lost. */
  loss: (a: number, b: number, ratio: number) => Promise<void>
  /** `simulated`: every message from `a` to `b` takes `ms` longer. */
  delay: (a: number, b: number, ms: number) => Promise<void>
  /** The agent stops running (SIGSTOP) until resume(): its peers hear nothing. */
  freeze: (i: number) => Promise<void>
  resume: (i: number) => Promise<void>
  /** kill -9: the process is gone, its connections refused. */
  crash: (i: number) => Promise<void>
  /** Starts a crashed agent again (a new boot); it joins agent 0. */
  restart: (i: number) => Promise<void>
  /** A graceful leave. */
  leave: (i: number) => Promise<void>

  /** Every member event so far, in order: who saw what (ms since the cluster started). */
  events: () => Promise<TestEvent[]>

  /** Submits a job on agent `on`; resolves with its id. */
  submit: (on: number, workload: string, input: unknown) => Promise<string>
  /** Until job `id` has ended (done, failed or cancelled) on some agent; resolves with its view. */
  jobDone: (id: string, opts?: WaitOptions) => Promise<JobView>

  /** `simulated`: runs the cluster `ms` of logical time. */
  advance: (ms: number) => Promise<void>
  /** Until no job runs anywhere and every agent that is up sees the same members alive. */
  runUntilIdle: (opts?: WaitOptions) => Promise<Views>
  /** Ends everything the cluster started. */
  stop: () => Promise<void>
}

/** A member event as an agent saw it. */
export interface TestEvent {
  /** ms since the cluster started (logical in `simulated` mode). */
  at: number
  /** The agent that saw it. */
  observer: number
  /** `member:join`, `member:failed`, … */
  type: string
  /** The member's name, status and cause after the event. */
  member: string
  status: MemberView['status']
  cause?: MemberView['cause']
}

/** A wait ran out: the message holds every agent's last view. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError'
  readonly views: Views
  constructor (message: string, views: Views) {
    super(message)
    this.views = views
  }
}

/** This mode cannot do that (a link delay on real sockets, a freeze without a process of its own). */
export class UnsupportedError extends Error {
  override name = 'UnsupportedError'
}

/** What the real modes answer to `loss()` and `delay()`: real sockets have no per-link loss or delay. */
export function needsSimulatedNetwork (command: 'loss' | 'delay'): UnsupportedError {
  return new UnsupportedError(`${command}() needs the simulated network: use mode 'simulated'`)
}

/** Every agent's view, one line per agent, for a failure message. */
export function describeViews (views: Views): string {
  return views.map((v, i) => `  agent ${i}: ${v == null ? 'down' : v.map(m => `${m.name}=${m.status}${m.cause != null ? `(${m.cause})` : ''}`).join(' ')}`).join('\n')
}
