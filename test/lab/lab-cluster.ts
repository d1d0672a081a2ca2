/**
 * Real `agent` processes in the network lab: one agent per node namespace,
 * listening on both lab networks (TCP on A, WebSocket on B), started through
 * the CLI and observed from inside each namespace (the control API binds
 * 127.0.0.1 there, unreachable from the test process):
 *
 *  - `poll()`: one `curl -s http://127.0.0.1:7373/v1/members` per node per
 *    round, rounds at most every POLL_MS (250 ms), so the observers do not
 *    starve the agents of CPU on a small machine;
 *  - `events`: every member event of every agent, followed with one
 *    long-lived `curl -sN /v1/events` per node (exact, and catches a
 *    failed -> alive flip that a poll would miss);
 *  - `cliMembers()`: the real `agent members --json`, as a user would run it.
 */
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLab, labAvailable, type Lab, type LabNode } from './netlab.ts'
import type { MemberView } from '../../agent/member-view.ts'
import { startedIn } from '../../testkit/agent-process.ts'

export const REPO = fileURLToPath(new URL('../../', import.meta.url))
/** The pinned Node 24 (the system Node may be too old for libp2p 3). */
export const NODE = join(REPO, 'node_modules', '.bin', 'node')
/**
 * The agent entry point: the TypeScript sources by default; AGENT_ENTRY
 * overrides it (as in test/integration/harness.ts), e.g. dist/agent.mjs.
 */
export const MAIN = process.env.AGENT_ENTRY != null ? resolve(REPO, process.env.AGENT_ENTRY) : join(REPO, 'agent', 'main.ts')
export const TCP_PORT = 7946
export const WS_PORT = 7947
export const RPC = '127.0.0.1:7373'
/** Minimum spacing of polling rounds (one curl per node per round). */
export const POLL_MS = 250
const OUTPUT_LINES = 60

export interface LabAgent {
  name: string
  node: LabNode
  child: ChildProcess
  peerId: string
  /** Full listen multiaddrs (with /p2p/<id>) as printed by the agent. */
  multiaddrs: string[]
  /** The last OUTPUT_LINES lines of stdout + stderr. */
  output: () => string
  exited: Promise<number | null>
}

export interface ObservedEvent {
  /** performance.now() when the event line arrived in this process. */
  t: number
  /** Name of the agent that emitted it. */
  observer: string
  type: string
  member: MemberView
}

/** Agent name -> its member list (null: the poll failed, e.g. the agent is dead). */
export type Views = Map<string, MemberView[] | null>

export interface Health { status: number, body: any }

export interface LabCluster {
  lab: Lab
  agents: LabAgent[]
  events: ObservedEvent[]
  /** Fetches `GET /v1/members` inside the agent's namespace with curl. */
  members: (agent: LabAgent) => Promise<MemberView[] | null>
  /** `agent members --json`, the real CLI, run inside the agent's namespace. */
  cliMembers: (agent: LabAgent) => Promise<MemberView[]>
  /** `GET /v1/health` (status 0 when the request failed). */
  health: (agent: LabAgent) => Promise<Health>
  /** One polling round: every (living) agent's view, in parallel. */
  poll: (agents?: LabAgent[]) => Promise<Views>
  /**
   * Polls (rounds >= POLL_MS apart) until `pred` holds; returns the elapsed ms
   * (from the call) and the views that satisfied it. On timeout throws with
   * every agent's view and recent output.
   */
  waitUntil: (what: string, pred: (views: Views) => boolean, timeoutMs: number, agents?: LabAgent[]) => Promise<{ ms: number, views: Views }>
  /** Polls for `durationMs`, calling `onRound` with each round's views. */
  observe: (durationMs: number, onRound: (views: Views, elapsedMs: number) => void, agents?: LabAgent[]) => Promise<number>
  /** A readable dump of views, the recent events and each agent's recent output, for failure messages. */
  diagnose: (views?: Views) => string
  byName: (name: string) => LabAgent
  destroy: () => Promise<void>
}

/** Status of `target` in `observer`'s view (undefined: not listed / no view). */
export function statusIn (views: Views, observer: LabAgent, target: LabAgent): MemberView | undefined {
  return views.get(observer.name)?.find(m => m.peerId === target.peerId)
}

/** True when every observer lists every target with `status` (and `extra`, if given). */
export function allSee (views: Views, observers: LabAgent[], targets: LabAgent[], status: string, extra?: (m: MemberView) => boolean): boolean {
  return observers.every(o => targets.every(t => {
    const m = statusIn(views, o, t)
    return m != null && m.status === status && (extra == null || extra(m))
  }))
}

/** One line per observer: "node1: node1=alive node2=failed(crash) …". */
export function formatViews (views: Views): string {
  const lines: string[] = []
  for (const [name, list] of views) {
    if (list == null) { lines.push(`  ${name}: <no answer>`); continue }
    const parts = [...list].sort((a, b) => a.name.localeCompare(b.name))
      .map(m => `${m.name}=${m.status}${m.cause != null ? `(${m.cause})` : ''}`)
    lines.push(`  ${name}: ${parts.join(' ')}`)
  }
  return lines.join('\n')
}

/** Checks that the lab can run here and that curl exists inside a namespace. */
export async function labClusterAvailable (): Promise<{ ok: true } | { ok: false, reason: string }> {
  const avail = await labAvailable()
  if (!avail.ok) return avail
  const curl = await runLocal('curl', ['--version'])
  if (!curl) return { ok: false, reason: '`curl` not found (needed to reach the control API inside the namespaces)' }
  return { ok: true }
}

async function runLocal (cmd: string, args: string[]): Promise<boolean> {
  const { spawn } = await import('node:child_process')
  return await new Promise<boolean>(resolve => {
    const child = spawn(cmd, args, { stdio: 'ignore' })
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(false) }, 5000)
    child.on('error', () => { clearTimeout(timer); resolve(false) })
    child.on('exit', code => { clearTimeout(timer); resolve(code === 0) })
  })
}

export interface StartClusterOptions {
  profile?: string
  /** Timeout for all agents to print their addresses. Default 60 s. */
  startTimeoutMs?: number
  /** Timeout for every agent to list every agent alive. Default 45 s. */
  convergeTimeoutMs?: number
  /** Lab namespace prefix (default "nl"). */
  prefix?: string
  /** More flags for every agent (e.g. --allow-exec-open). */
  extraArgs?: string[]
}

/**
 * Creates a lab of `n` nodes and starts agent `nodeI` in namespace I:
 * `--listen /ip4/<A>/tcp/7946 --listen /ip4/<B>/tcp/7947/ws --rpc 127.0.0.1:7373`,
 * every agent but the first joining node1's A and B addresses. Resolves once
 * every agent lists all `n` alive. Destroys the lab if anything fails.
 */
export async function startLabCluster (n: number, opts: StartClusterOptions = {}): Promise<LabCluster> {
  const lab = await createLab(n, { prefix: opts.prefix })
  const agents: LabAgent[] = []
  const events: ObservedEvent[] = []
  const streams: ChildProcess[] = []
  const profile = opts.profile ?? 'lan'
  let cluster: LabCluster | undefined
  try {
    const seed = lab.nodes[0]
    const joins = [`/ip4/${seed.addrA}/tcp/${TCP_PORT}`, `/ip4/${seed.addrB}/tcp/${WS_PORT}/ws`]
    const starts = lab.nodes.map(async (node, i) =>
      await spawnAgent(lab, node, `node${i + 1}`, profile, [...(i === 0 ? [] : joins.flatMap(a => ['--join', a])), ...(opts.extraArgs ?? [])], opts.startTimeoutMs ?? 60_000))
    const started = await Promise.allSettled(starts)
    for (const s of started) if (s.status === 'fulfilled') agents.push(s.value)
    const failed = started.find(s => s.status === 'rejected')
    if (failed != null) throw (failed as PromiseRejectedResult).reason

    const members = async (agent: LabAgent): Promise<MemberView[] | null> => {
      const r = await lab.exec(agent.node, 'curl', ['-s', '--max-time', '3', `http://${RPC}/v1/members`], { timeoutMs: 5000 })
      if (r.code !== 0) return null
      try { return JSON.parse(r.stdout) as MemberView[] } catch { return null }
    }
    const living = (list: LabAgent[]): LabAgent[] => list.filter(a => a.child.exitCode == null && a.child.signalCode == null)
    const poll = async (list: LabAgent[] = agents): Promise<Views> => {
      const alive = living(list)
      const answers = await Promise.all(alive.map(async a => await members(a)))
      const views: Views = new Map()
      alive.forEach((a, i) => views.set(a.name, answers[i]))
      return views
    }
    let lastViews: Views = new Map()
    const diagnose = (views: Views = lastViews): string => {
      const recent = events.slice(-40).map(e => `  +${(e.t / 1000).toFixed(2)}s ${e.observer}: ${e.type} ${e.member.name} ${e.member.status}${e.member.cause != null ? `(${e.member.cause})` : ''}`)
      const outputs = agents.map(a => `--- ${a.name} (${a.node.netns}, peer ${a.peerId})${a.child.exitCode != null || a.child.signalCode != null ? ' [exited]' : ''}\n${a.output()}`)
      return `views:\n${formatViews(views)}\nrecent events (performance.now()):\n${recent.join('\n')}\nagent output:\n${outputs.join('\n')}`
    }
    const waitUntil = async (what: string, pred: (views: Views) => boolean, timeoutMs: number, list?: LabAgent[]): Promise<{ ms: number, views: Views }> => {
      const start = performance.now()
      const maxRounds = Math.ceil(timeoutMs / POLL_MS) + 2
      for (let round = 0; round < maxRounds; round++) {
        const roundStart = performance.now()
        const views = await poll(list)
        lastViews = views
        if (pred(views)) return { ms: performance.now() - start, views }
        if (performance.now() - start >= timeoutMs) break
        await sleep(Math.max(0, POLL_MS - (performance.now() - roundStart)))
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}\n${diagnose(lastViews)}`)
    }
    const observe = async (durationMs: number, onRound: (views: Views, elapsedMs: number) => void, list?: LabAgent[]): Promise<number> => {
      const start = performance.now()
      const maxRounds = Math.ceil(durationMs / POLL_MS) + 2
      let rounds = 0
      for (; rounds < maxRounds && performance.now() - start < durationMs; rounds++) {
        const roundStart = performance.now()
        const views = await poll(list)
        lastViews = views
        onRound(views, performance.now() - start)
        await sleep(Math.max(0, POLL_MS - (performance.now() - roundStart)))
      }
      return rounds
    }
    const cliMembers = async (agent: LabAgent): Promise<MemberView[]> => {
      const r = await lab.exec(agent.node, NODE, [MAIN, 'members', '--json', '--rpc', RPC], { cwd: REPO, timeoutMs: 30_000 })
      if (r.code !== 0) throw new Error(`\`agent members --json\` in ${agent.name}'s namespace failed (code ${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stderr}`)
      return JSON.parse(r.stdout) as MemberView[]
    }
    const health = async (agent: LabAgent): Promise<Health> => {
      const r = await lab.exec(agent.node, 'curl', ['-s', '--max-time', '3', '-w', '\n%{http_code}', `http://${RPC}/v1/health`], { timeoutMs: 5000 })
      const nl = r.stdout.lastIndexOf('\n')
      const status = Number(r.stdout.slice(nl + 1)) || 0
      let body: any
      try { body = JSON.parse(r.stdout.slice(0, Math.max(nl, 0))) } catch { body = r.stdout.slice(0, Math.max(nl, 0)) }
      return { status, body }
    }

    cluster = {
      lab, agents, events, members, cliMembers, health, poll, waitUntil, observe, diagnose,
      byName: (name) => {
        const a = agents.find(x => x.name === name)
        if (a == null) throw new Error(`no agent ${name}`)
        return a
      },
      destroy: async () => {
        for (const s of streams) try { s.kill('SIGKILL') } catch {}
        await lab.destroy()
      }
    }

    await cluster.waitUntil(`all ${n} agents list all ${n} alive`,
      views => allSee(views, agents, agents, 'alive'), opts.convergeTimeoutMs ?? 45_000)

    // Follow every agent's events from now on.
    const followers = agents.map(agent => followEvents(lab, agent, events))
    for (const f of followers) streams.push(f.child)
    await Promise.race([Promise.all(followers.map(async f => await f.connected)), sleep(5000)])
    return cluster
  } catch (err) {
    const dump = agents.map(a => `--- ${a.name}\n${a.output()}`).join('\n')
    await lab.destroy()
    if (err instanceof Error && !err.message.includes('agent output')) err.message += `\n${dump}`
    throw err
  }
}

async function spawnAgent (lab: Lab, node: LabNode, name: string, profile: string, extra: string[], timeoutMs: number): Promise<LabAgent> {
  const args = [MAIN, '--log-format', 'text', '--name', name, '--profile', profile, '--rpc', RPC,
    '--listen', `/ip4/${node.addrA}/tcp/${TCP_PORT}`, '--listen', `/ip4/${node.addrB}/tcp/${WS_PORT}/ws`, ...extra]
  const child = lab.spawn(node, NODE, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let all = ''
  const lines: string[] = []
  let partial = ''
  const onData = (d: Buffer): void => {
    const text = d.toString()
    if (all.length < 8192) all += text
    partial += text
    const parts = partial.split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) {
      lines.push(line)
      if (lines.length > OUTPUT_LINES) lines.shift()
    }
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const output = (): string => [...lines, partial].filter(Boolean).join('\n')
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    const started = startedIn(all)
    if (started != null) return { name, node, child, exited, output, peerId: started.peerId, multiaddrs: started.multiaddrs }
    if (child.exitCode != null || child.signalCode != null) break
    await sleep(50)
  }
  const why = child.exitCode != null || child.signalCode != null ? `exited (${child.exitCode ?? child.signalCode}) before printing its addresses` : `did not start within ${timeoutMs} ms`
  try { child.kill('SIGKILL') } catch {}
  throw new Error(`agent ${name} in ${node.netns} ${why}:\n${output()}`)
}

/** `curl -sN /v1/events` inside the agent's namespace; appends every event to `sink`. */
function followEvents (lab: Lab, agent: LabAgent, sink: ObservedEvent[]): { child: ChildProcess, connected: Promise<void> } {
  const child = lab.spawn(agent.node, 'curl', ['-sN', `http://${RPC}/v1/events`], { stdio: ['ignore', 'pipe', 'ignore'] })
  let buf = ''
  let onConnected: () => void = () => {}
  const connected = new Promise<void>(resolve => { onConnected = resolve })
  child.once('exit', () => onConnected())
  child.stdout!.on('data', (d: Buffer) => {
    const t = performance.now()
    onConnected()
    buf += d.toString()
    let sep = buf.indexOf('\n\n')
    for (let guard = 0; sep >= 0 && guard < 10_000; guard++) {
      const block = buf.slice(0, sep)
      buf = buf.slice(sep + 2)
      sep = buf.indexOf('\n\n')
      const type = /^event: (.+)$/m.exec(block)?.[1]
      const data = /^data: (.+)$/m.exec(block)?.[1]
      if (type == null || data == null) continue
      try { sink.push({ t, observer: agent.name, type, member: JSON.parse(data) as MemberView }) } catch {}
    }
  })
  child.on('error', () => { onConnected() })
  return { child, connected }
}
