/**
 * One run of the scale benchmark: N real agent processes launched at once on
 * loopback (`lan` profile), all joining the first SEEDS agents. Measured, in
 * order: convergence from launch (every agent lists all N alive, from each
 * agent's event stream: bench/views.ts), the CPU each agent used to get there,
 * false failures while starting, then an idle window (RSS, CPU, traffic, false
 * failures), then kill -9 of one agent and kill -STOP / -CONT of another.
 *
 * Every wait is bounded; a bound that runs out records NaN and the run goes
 * on, so that one slow phase still leaves the others' figures. A watchdog
 * kills every agent if the machine runs short of memory (a hundred agents
 * that never settle can hold more than it has).
 */
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { ClusterViews, type ViewEvent } from './views.ts'
import { cpuTimes, ioBytes, rssMb } from './proc.ts'
import { mean } from './stats.ts'
import type { MemberView } from '../agent/member-view.ts'
import { freePort, killAll, startAllAtOnce, type AgentProcess, type StartOptions } from '../test/integration/harness.ts'

export interface ScaleOptions {
  /** Agents every other agent joins (the first ones launched). */
  seeds: number
  /** Bound on convergence from launch. */
  convergeTimeoutMs: number
  /** After convergence, still counted as starting: the start's backlog (suspicions timing out) ends here. */
  settleMs: number
  idleMs: number
  /** Bound on each detection (kill -9, -STOP, -CONT). */
  detectTimeoutMs: number
}

export interface ScaleRun {
  n: number
  converged: boolean
  /** Launch → every agent lists all N alive; NaN if not within the bound. */
  convergeMs: number
  /**
   * Launch → the last time all views became full, if they still were at the
   * end of the start (convergence + settle): while suspicions of live members
   * come and go, views can be full for a moment and then not again.
   */
  stableConvergeMs: number
  /** Agents whose /v1/health confirmed N alive right after convergence (lower while views still flicker). */
  healthConfirmed: number
  /** CPU (user + system) per agent from launch to convergence (or to the bound), mean and max. */
  startCpuS: number
  startCpuMaxS: number
  /** This benchmark's own CPU over the same time: the cost of watching. */
  watcherCpuS: number
  /** Failed marks of live members, launch → convergence + settle. */
  startFalseFailures: number
  startSuspicions: number
  idleSeconds: number
  idleFalseFailures: number
  idleSuspicions: number
  /** VmRSS at the end of the idle window, mean and max over agents. */
  idleRssMb: number
  idleRssMaxMb: number
  idleCpuPercent: number
  /** Membership transport frame bytes, in + out, per agent. */
  idleBytesPerSec: number
  /** Work transport messages (topic and direct, in + out) per agent. */
  idleWorkMsgsPerSec: number
  /** Every byte the process read or wrote (rchar + wchar: sockets, pipes, files) per agent. */
  idleIoBytesPerSec: number
  /** Statuses that differed between the views kept from events and each agent's /v1/members after the idle window (a check of the method: 0). */
  viewMismatches: number
  /** Agents that listed the killed one alive when it was killed (N − 1 once converged), and the stopped one when stopped. */
  killObservers: number
  stopObservers: number
  killFirstMs: number
  killAllFailedMs: number
  stopFirstMs: number
  stopAllFailedMs: number
  resumeAllAliveMs: number
  /** Failed marks of members other than the two targets while the faults ran, by agents other than the frozen one. */
  faultFalseFailures: number
}

/** Below this much available memory the watchdog ends the run. */
const MIN_AVAILABLE_MB = Number(process.env.BENCH_MIN_AVAILABLE_MB ?? 1500)

/** `at`: when it was read; under load the reads of a hundred agents spread over seconds, so each agent's rate uses its own. */
interface ProcSample { cpuS: number, rssMb: number, ioBytes: number, at: number }

async function procSample (pid: number): Promise<ProcSample> {
  const [cpu, rss, io] = await Promise.all([cpuTimes(pid), rssMb(pid), ioBytes(pid)])
  return {
    cpuS: cpu.userS + cpu.systemS,
    rssMb: rss,
    ioBytes: io.readB + io.writtenB,
    at: performance.now()
  }
}

interface Traffic { bytes: number, workMsgs: number, at: number }

/**
 * GET of a control API path as JSON, tried again for up to 30 s: an agent
 * starved of CPU may answer 408 (it read the request after its header
 * timeout) or be slow to answer at all.
 */
async function getJson (agent: AgentProcess, path: string): Promise<unknown> {
  const end = performance.now() + 30_000
  for (;;) {
    try {
      const res = await fetch(`http://${agent.rpc}${path}`, { signal: AbortSignal.timeout(30_000) })
      if (res.ok) return await res.json()
      await res.body?.cancel()
      throw new Error(`HTTP ${res.status}`)
    } catch (err) {
      if (performance.now() >= end) throw new Error(`GET ${path} of ${agent.name}: ${(err as Error).message}`)
      await sleep(250)
    }
  }
}

async function traffic (agent: AgentProcess): Promise<Traffic> {
  const stats = await getJson(agent, '/v1/stats') as {
    transport: { bytesIn: number, bytesOut: number }
    work?: { transport?: { topicIn: number, topicOut: number, directIn: number, directOut: number } }
  }
  const w = stats.work?.transport
  return {
    bytes: stats.transport.bytesIn + stats.transport.bytesOut,
    workMsgs: w == null ? 0 : w.topicIn + w.topicOut + w.directIn + w.directOut,
    at: performance.now()
  }
}

async function availableMb (): Promise<number> {
  const info = await readFile('/proc/meminfo', 'utf8')
  return Number(/MemAvailable:\s+(\d+)/.exec(info)?.[1] ?? Infinity) / 1024
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits
const since = (from: number, to: number | undefined): number => to == null ? NaN : Math.round(to - from)

/** Smallest, median and largest of a sorted list. */
const summarize = (sorted: number[]): string => sorted.length === 0 ? 'none' : `${sorted[0]} / ${sorted[Math.floor(sorted.length / 2)]} / ${sorted[sorted.length - 1]} (min / median / max)`

/** Agents of the run in progress, for killLive. */
const live = new Set<AgentProcess>()

/** Kills the agents of a run in progress: for a benchmark interrupted (Ctrl-C) before its `finally` could. */
export function killLive (): void {
  for (const a of live) { a.child.kill('SIGCONT'); a.child.kill('SIGKILL') }
}

export async function runScale (n: number, options: ScaleOptions, log: (line: string) => void = () => {}): Promise<ScaleRun> {
  const agents: AgentProcess[] = []
  const views = new ClusterViews(n)
  let aborted: string | undefined
  const watchdog = setInterval(() => {
    availableMb().then(mb => {
      if (mb >= MIN_AVAILABLE_MB || aborted != null) return
      aborted = `only ${Math.round(mb)} MB of memory left with ${agents.length} agents running`
      for (const a of agents) { a.child.kill('SIGCONT'); a.child.kill('SIGKILL') }
    }).catch(() => {})
  }, 1000)
  /** Polls `done` until it holds (returns the time) or `timeoutMs` passes (undefined). */
  const until = async (done: () => boolean, timeoutMs: number): Promise<number | undefined> => {
    const end = performance.now() + timeoutMs
    for (;;) {
      if (aborted != null) throw new Error(`aborted: ${aborted}`)
      if (done()) return performance.now()
      if (performance.now() >= end) return undefined
      await sleep(20)
    }
  }
  const samples = async (list: AgentProcess[]): Promise<ProcSample[]> => await Promise.all(list.map(async a => await procSample(a.child.pid!)))

  try {
    const ports = await Promise.all(Array.from({ length: options.seeds }, async () => await freePort()))
    const seedAddrs = ports.map(p => `/ip4/127.0.0.1/tcp/${p}`)
    const launches: StartOptions[] = Array.from({ length: n }, (_, i) => ({
      name: `s${i + 1}`,
      listen: i < options.seeds ? [seedAddrs[i], '/ip4/127.0.0.1/tcp/0/ws'] : undefined,
      join: i === 0 ? [] : i < options.seeds ? [seedAddrs[0]] : seedAddrs,
      startTimeoutMs: options.convergeTimeoutMs
    }))

    // Launch: every process spawned in this turn of the event loop.
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await startAllAtOnce(launches, agents, async a => { live.add(a); await views.watch(a) })
    log(`  all ${n} started and followed after ${Math.round(performance.now() - t0)} ms`)
    const fullAt = await until(() => views.fullAt != null, Math.max(0, t0 + options.convergeTimeoutMs - performance.now()))
    const startSamples = await samples(agents)
    const cpu1 = process.cpuUsage(cpu0)
    const convergeMs = since(t0, views.fullAt)
    log(`  converged: ${fullAt != null ? `${convergeMs} ms` : `no (${views.fullCount} of ${n} views full; members alive per view: ${summarize(views.aliveCounts())}; smallest: ${views.smallest(3)})`}`)
    const health = await Promise.all(agents.map(async a => {
      return (await getJson(a, '/v1/health') as { members: { alive: number } }).members.alive
    }))

    // The start, as far as false failures go, lasts until the backlog settled.
    await until(() => false, options.settleMs)
    // Nothing is a fault's target yet: every failed mark is false.
    const noTargets = new Set<string>()
    const tStartEnd = performance.now()
    const stableConvergeMs = views.fullCount === n ? since(t0, views.lastFullAt) : NaN
    const startFalse = views.falseFailures(noTargets, t0, tStartEnd)
    const startSuspect = views.suspicions(noTargets, t0, tStartEnd)
    if (startFalse.length > 0) log(`  false failures while starting: ${describeMarks(startFalse, views.events, agents, t0)}`)

    // Idle window.
    const idleBefore = await samples(agents)
    const trafficBefore = await Promise.all(agents.map(traffic))
    const tIdle = performance.now()
    await until(() => false, options.idleMs)
    const idleAfter = await samples(agents)
    const trafficAfter = await Promise.all(agents.map(traffic))
    const mismatches = await Promise.all(agents.map(async a => {
      return views.mismatches(a.name, await getJson(a, '/v1/members') as MemberView[])
    }))
    const tIdleEnd = performance.now()
    const seconds = (tIdleEnd - tIdle) / 1000
    const perSec = <T extends { at: number }>(after: T[], before: T[], value: (x: T) => number): number =>
      mean(after.map((a, i) => (value(a) - value(before[i])) / ((a.at - before[i].at) / 1000)))
    const idleFalse = views.falseFailures(noTargets, tStartEnd, tIdleEnd)
    const idleSuspect = views.suspicions(noTargets, tStartEnd, tIdleEnd)
    log(`  idle ${Math.round(seconds)} s: ${idleFalse.length} false failures${idleFalse.length > 0 ? `: ${describeMarks(idleFalse, views.events, agents, t0)}` : ''}`)

    // Who is to detect a fault: every other agent that lists the target alive
    // when it happens (all of them, once the cluster converged).
    const listing = (target: AgentProcess, pick: (status: string | undefined) => boolean, except: AgentProcess[] = []): string[] =>
      agents.filter(a => a !== target && !except.includes(a) && pick(views.status(a.name, target.peerId))).map(a => a.name)

    // kill -9 of the last agent launched (never a seed).
    const victim = agents.find(a => a.name === `s${n}`)!
    const killObservers = listing(victim, s => s === 'alive')
    const tKill = performance.now()
    victim.child.kill('SIGKILL')
    await until(() => views.allSaw(victim.peerId, 'failed', killObservers, tKill) != null, options.detectTimeoutMs)
    const killAllAt = views.allSaw(victim.peerId, 'failed', killObservers, tKill)
    const killFirst = views.first(victim.peerId, ['suspect', 'failed'], killObservers, tKill)
    log(`  kill -9: failed everywhere (${killObservers.length} agents) after ${since(tKill, killAllAt)} ms`)
    await until(() => false, 5000)

    // kill -STOP of the one launched before it, then kill -CONT.
    const frozen = agents.find(a => a.name === `s${n - 1}`)!
    const stopObservers = listing(frozen, s => s === 'alive', [victim])
    const tStop = performance.now()
    frozen.child.kill('SIGSTOP')
    await until(() => views.allSaw(frozen.peerId, 'failed', stopObservers, tStop) != null, options.detectTimeoutMs)
    const stopAll = views.allSaw(frozen.peerId, 'failed', stopObservers, tStop)
    const stopFirst = views.first(frozen.peerId, ['suspect', 'failed'], stopObservers, tStop)
    log(`  kill -STOP: failed everywhere (${stopObservers.length} agents) after ${since(tStop, stopAll)} ms`)
    const resumeObservers = listing(frozen, s => s === 'suspect' || s === 'failed', [victim])
    const tCont = performance.now()
    frozen.child.kill('SIGCONT')
    await until(() => views.allSaw(frozen.peerId, 'alive', resumeObservers, tCont) != null, options.detectTimeoutMs)
    const resumeAll = views.allSaw(frozen.peerId, 'alive', resumeObservers, tCont)
    log(`  kill -CONT: alive everywhere (${resumeObservers.length} agents) after ${since(tCont, resumeAll)} ms`)
    const observers = agents.filter(a => a !== victim && a !== frozen).map(a => a.name)
    const faultFalse = views.falseFailures(new Set([victim.peerId, frozen.peerId]), tKill, performance.now(), new Set(observers))
    const streamErrors = views.errors.filter(e => !e.startsWith(`${victim.name}:`))
    if (streamErrors.length > 0) log(`  event streams that failed: ${streamErrors.slice(0, 3).join('; ')}`)

    const startCpu = startSamples.map(s => s.cpuS)
    return {
      n,
      converged: fullAt != null,
      convergeMs,
      stableConvergeMs,
      healthConfirmed: health.filter(alive => alive === n).length,
      startCpuS: round(mean(startCpu), 2),
      startCpuMaxS: round(Math.max(...startCpu), 2),
      watcherCpuS: round((cpu1.user + cpu1.system) / 1e6, 2),
      startFalseFailures: startFalse.length,
      startSuspicions: startSuspect.length,
      idleSeconds: Math.round(seconds),
      idleFalseFailures: idleFalse.length,
      idleSuspicions: idleSuspect.length,
      idleRssMb: round(mean(idleAfter.map(s => s.rssMb)), 1),
      idleRssMaxMb: round(Math.max(...idleAfter.map(s => s.rssMb)), 1),
      idleCpuPercent: round(perSec(idleAfter, idleBefore, s => s.cpuS) * 100, 2),
      idleBytesPerSec: Math.round(perSec(trafficAfter, trafficBefore, t => t.bytes)),
      idleWorkMsgsPerSec: round(perSec(trafficAfter, trafficBefore, t => t.workMsgs), 2),
      idleIoBytesPerSec: Math.round(perSec(idleAfter, idleBefore, s => s.ioBytes)),
      viewMismatches: mismatches.reduce((sum, m) => sum + m, 0),
      killObservers: killObservers.length,
      stopObservers: stopObservers.length,
      killFirstMs: since(tKill, killFirst),
      killAllFailedMs: since(tKill, killAllAt),
      stopFirstMs: since(tStop, stopFirst),
      stopAllFailedMs: since(tStop, stopAll),
      resumeAllAliveMs: since(tCont, resumeAll),
      faultFalseFailures: faultFalse.length
    }
  } finally {
    clearInterval(watchdog)
    views.close()
    await killAll(agents)
    live.clear()
  }
}

/**
 * Who marked whom failed, why, and when (seconds from launch), with how long
 * that observer had suspected the member: the first five, for the log.
 */
function describeMarks (marks: ViewEvent[], events: ViewEvent[], agents: AgentProcess[], t0: number): string {
  const nameOf = new Map(agents.map(a => [a.peerId, a.name]))
  const seconds = (at: number): string => ((at - t0) / 1000).toFixed(1)
  return marks.slice(0, 5).map(m => {
    const suspected = events.filter(e => e.observer === m.observer && e.peerId === m.peerId && e.status === 'suspect' && e.at <= m.at).at(-1)
    return `${m.observer} marked ${nameOf.get(m.peerId) ?? m.peerId} failed (${m.cause ?? 'no cause'}) at ${seconds(m.at)} s` +
      (suspected != null ? `, suspected since ${seconds(suspected.at)} s` : '')
  }).join('; ') + (marks.length > 5 ? `; and ${marks.length - 5} more` : '')
}
