/**
 * Runs real `agent` processes on loopback, as a user would: each one started
 * through the CLI, observed through `agent members --json` / the control API.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import type { MemberView } from '../../agent/member-view.ts'
import type { JobView } from '../../workloads/index.ts'
import { killAgent, launchAgent, type AgentProcess } from '../../testkit/agent-process.ts'

export type { AgentProcess } from '../../testkit/agent-process.ts'

export const REPO = fileURLToPath(new URL('../../', import.meta.url))
/**
 * The agent entry point: the TypeScript sources by default; the benchmarks set
 * AGENT_ENTRY to the binary a user installs (agent/bin.js → dist/agent.cjs).
 */
export const MAIN = process.env.AGENT_ENTRY ?? fileURLToPath(new URL('../../agent/main.ts', import.meta.url))
/** The pinned Deno binary, for agents started with `runtime: 'deno'`. */
export const DENO = process.env.DENO_BIN ?? fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url))
/**
 * What Deno runs: the TypeScript sources through deno-compat/main.ts by
 * default; the benchmarks set DENO_AGENT_ENTRY to the bundle (dist/agent.mjs).
 */
const DENO_MAIN = process.env.DENO_AGENT_ENTRY ?? fileURLToPath(new URL('../../deno-compat/main.ts', import.meta.url))
/**
 * Environment of every Deno process the tests start: plain output, and no
 * update check (Deno otherwise looks its release server up in DNS on every
 * start: traffic off this machine, and ~1 MB more resident).
 */
const DENO_ENV = { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' }

export interface StartOptions {
  name: string
  join?: string[]
  profile?: string
  extraArgs?: string[]
  /** Default: TCP and WS on 127.0.0.1 with OS-chosen ports. */
  listen?: string[]
  /** Default `node`. */
  runtime?: 'node' | 'deno'
  /** What a Node agent runs. Default MAIN: the sources, or AGENT_ENTRY. */
  nodeEntry?: string
  /** What a Deno agent runs. Default DENO_MAIN: the sources through deno-compat/main.ts, or DENO_AGENT_ENTRY. */
  denoEntry?: string
  /** Added to the environment of this agent's process only (e.g. DENO_V8_FLAGS). */
  env?: Record<string, string>
  /**
   * How long the process may take to print its control address. Default 20 s
   * (60 s on Deno); dozens of agents launched at once on few cores need more.
   */
  startTimeoutMs?: number
}

/** Starts `agent` and resolves once it printed its peer id, addresses and control address. */
export async function startAgent (options: StartOptions): Promise<AgentProcess> {
  const listen = options.listen ?? ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
  // Readable lines (not the JSON a pipe gets by default): tests read the start banner and warnings as a user does.
  const flags = ['--log-format', 'text', '--name', options.name, '--rpc', '127.0.0.1:0', '--profile', options.profile ?? 'lan',
    ...listen.flatMap(a => ['--listen', a]),
    ...(options.join ?? []).flatMap(a => ['--join', a]),
    ...(options.extraArgs ?? [])]
  const deno = options.runtime === 'deno'
  return await launchAgent(deno ? DENO : process.execPath,
    deno ? ['run', '-A', '--node-modules-dir=manual', options.denoEntry ?? DENO_MAIN, ...flags] : [options.nodeEntry ?? MAIN, ...flags],
    {
      name: options.name,
      cwd: REPO,
      env: { ...process.env, ...(deno ? DENO_ENV : {}), ...options.env },
      // Deno's first start may compile the sources: a longer bound.
      startTimeoutMs: options.startTimeoutMs ?? (deno ? 60_000 : 20_000)
    })
}

/** Runs a CLI subcommand to completion. */
export async function runCli (args: string[], timeoutMs = 20_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>(resolve => child.on('exit', c => resolve(c)))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** `agent members --json` against one agent, through the real CLI. */
export async function membersViaCli (agent: AgentProcess): Promise<MemberView[]> {
  const { code, stdout, stderr } = await runCli(['members', '--json', '--rpc', agent.rpc])
  if (code !== 0) throw new Error(`agent members failed (${String(code)}): ${stderr}`)
  return JSON.parse(stdout) as MemberView[]
}

/** `POST /v1/jobs` on one agent: the new job's id once accepted (202); throws with the answer otherwise. */
export async function submitViaApi (agent: AgentProcess, workload: string, input: unknown): Promise<string> {
  const res = await fetch(`http://${agent.rpc}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ workload, input }) })
  if (res.status !== 202) throw new Error(`POST /v1/jobs answered ${res.status}: ${await res.text()}`)
  return (await res.json() as { id: string }).id
}

/** `GET /v1/jobs/ID` on one agent (undefined while nobody it asks knows the job). */
export async function jobViaApi (agent: AgentProcess, id: string): Promise<JobView | undefined> {
  const res = await fetch(`http://${agent.rpc}/v1/jobs/${id}`, { signal: AbortSignal.timeout(10_000) })
  if (res.status === 404) return undefined
  if (!res.ok) throw new Error(`GET /v1/jobs/${id} answered ${res.status}`)
  return await res.json() as JobView
}

/** `GET /v1/members`, faster than spawning the CLI; used for polling. */
export async function membersViaApi (agent: AgentProcess): Promise<MemberView[]> {
  const res = await fetch(`http://${agent.rpc}/v1/members`, { signal: AbortSignal.timeout(5000) })
  if (!res.ok) throw new Error(`GET /v1/members answered ${res.status}`)
  return await res.json() as MemberView[]
}

/** Polls until `check` holds or the time runs out; returns how long it took. Throws with the last state otherwise. */
export async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<number> {
  const start = performance.now()
  let lastError: unknown
  while (performance.now() - start < timeoutMs) {
    try {
      if (await check()) return performance.now() - start
    } catch (err) {
      lastError = err
    }
    await sleep(intervalMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${lastError != null ? ` (last error: ${(lastError as Error).message})` : ''}`)
}

/**
 * Resolves like `promise` (an event being awaited: a listener's promise, a
 * job's result), or throws if it has not settled within `timeoutMs`. The
 * event-driven counterpart of waitFor, for what is not polled.
 */
export async function within<T> (what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)) }, timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** True when `observer` sees every peer in `expected` with the given status (and, for alive, exactly that set alive). */
export async function sees (observer: AgentProcess, expected: Map<string, string>): Promise<boolean> {
  const members = await membersViaApi(observer)
  const byId = new Map(members.map(m => [m.peerId, m.status]))
  for (const [peerId, status] of expected) {
    if (byId.get(peerId) !== status) return false
  }
  return true
}

/** Waits until every observer sees every target with `status`, asking every `intervalMs` (longer for many observers, so that the asking is no load). */
export async function waitAllSee (observers: AgentProcess[], targets: AgentProcess[], status: string, timeoutMs: number, intervalMs?: number): Promise<number> {
  const expected = new Map(targets.map(t => [t.peerId, status]))
  return await waitFor(`${observers.map(o => o.name).join(',')} see ${targets.map(t => t.name).join(',')} ${status}`,
    async () => (await Promise.all(observers.map(async o => await sees(o, expected)))).every(Boolean), timeoutMs, intervalMs)
}

/** Kills every agent still running; call in `after`. */
export async function killAll (agents: AgentProcess[]): Promise<void> {
  await Promise.all(agents.map(killAgent))
}

/**
 * Launches every agent at once (no start waits for another: the start storm
 * is the case under test). Each agent is pushed to `started` as soon as it
 * printed its addresses, so that the caller's `killAll(started)` also ends the
 * ones that started before another failed; `onStart` runs for each then.
 * Rejects once all launches settled if any failed.
 */
export async function startAllAtOnce (options: StartOptions[], started: AgentProcess[], onStart?: (agent: AgentProcess) => Promise<void> | void): Promise<void> {
  const results = await Promise.allSettled(options.map(async o => {
    const agent = await startAgent(o)
    started.push(agent)
    await onStart?.(agent)
  }))
  const failed = results.filter(r => r.status === 'rejected')
  if (failed.length > 0) throw new Error(`${failed.length} of ${options.length} agents failed to start; first: ${String(failed[0].reason)}`)
}

/** Starts n agents: the first alone, the others joining it. */
export async function startCluster (n: number, prefix = 'node', profile = 'lan', extraArgs: string[] = []): Promise<AgentProcess[]> {
  const first = await startAgent({ name: `${prefix}1`, profile, extraArgs })
  const rest = await Promise.all(Array.from({ length: n - 1 }, async (_, i) =>
    await startAgent({ name: `${prefix}${i + 2}`, profile, join: [first.multiaddrs[0]], extraArgs })))
  return [first, ...rest]
}

/** A fresh control API token made by `agent keygen --rpc-token` in a temporary folder `dir`; `remove()` deletes the folder. */
export async function rpcTokenFixture (prefix: string): Promise<{ dir: string, tokenFile: string, token: string, remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const tokenFile = join(dir, 'rpc.token')
  const { code, stderr } = await runCli(['keygen', '--rpc-token', tokenFile])
  if (code !== 0) throw new Error(`agent keygen --rpc-token failed (${String(code)}): ${stderr}`)
  return { dir, tokenFile, token: (await readFile(tokenFile, 'utf8')).trim(), remove: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/**
 * What many agents launched at once run: the bundle a user installs, built
 * from the sources into a temporary folder (a second), or AGENT_ENTRY when it
 * is set. Dozens of processes each compiling the TypeScript sources would
 * take minutes of a 2-core machine and measure the type stripper, not the
 * product. `remove()` deletes the folder.
 */
export async function launchableBundle (): Promise<{ entry: string, remove: () => Promise<void> }> {
  if (process.env.AGENT_ENTRY != null) return { entry: process.env.AGENT_ENTRY, remove: async () => {} }
  const dir = await mkdtemp(join(tmpdir(), 'agent-bundle-'))
  const entry = join(dir, 'agent.mjs')
  await promisify(execFile)(process.execPath, [join(REPO, 'build/bundle.ts'), join(REPO, 'agent/main.ts'), entry], { cwd: REPO })
  return { entry, remove: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for an agent whose address others must know before it starts). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })
}
