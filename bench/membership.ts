/**
 * Membership benchmark: 10 real agent processes on loopback, `lan` profile.
 * One run measures, in order: convergence after launch, the idle cost (RSS,
 * CPU, bytes per second) of the settled cluster, kill -STOP detection,
 * resume, kill -9 detection and graceful leave.
 */
import { rssMb, threadsCpuS } from './proc.ts'
import { setTimeout as sleep } from 'node:timers/promises'
import { EventRecorder } from './events.ts'
import { SETTLED_AFTER_MS } from './settled.ts'
import { mean } from './stats.ts'
import { ClusterViews } from './views.ts'
import { freePort, killAll, startAllAtOnce, waitFor, type AgentProcess } from '../test/integration/harness.ts'

export interface MembershipRun {
  convergeMs: number
  killFirstDetectMs: number
  killAllFailedMs: number
  stopFirstDetectMs: number
  stopAllFailedMs: number
  resumeAllAliveMs: number
  leaveAllSeenMs: number
  idleRssMb: number
  idleCpuPercent: number
  idleBytesPerSec: number
  /** Members wrongly marked failed (not the fault's target) during the run. */
  falseFailures: number
}

async function procSample (pid: number): Promise<{ rssMb: number, cpuS: number }> {
  // The scheduler's nanosecond counters of every thread: /proc/PID/stat's 10-ms ticks are 0.02 % of a core over a minute.
  const [rss, cpuS] = await Promise.all([rssMb(pid), threadsCpuS(pid)])
  return { rssMb: rss, cpuS }
}

async function transportBytes (agent: AgentProcess): Promise<number> {
  const res = await fetch(`http://${agent.rpc}/v1/stats`)
  const stats = await res.json() as { transport: { bytesIn: number, bytesOut: number } }
  return stats.transport.bytesIn + stats.transport.bytesOut
}

const ms = (from: number, to: number | undefined): number => to == null ? NaN : Math.round(to - from)
const TIMEOUT_MS = 30_000
const IDLE_WINDOW_MS = 60_000
const SETTLE_MS = 10_000

export async function runMembershipBench (n = 10): Promise<MembershipRun> {
  const port = await freePort()
  const seedAddr = `/ip4/127.0.0.1/tcp/${port}`
  const recorder = new EventRecorder()
  const agents: AgentProcess[] = []
  try {
    // Convergence: from the launch of the first process to every agent listing all n alive,
    // followed on each agent's event stream as bench:scale does (bench/views.ts). Polling
    // ten member lists every 20 ms was itself a load on the two cores the agents start on.
    const views = new ClusterViews(n)
    const t0 = performance.now()
    try {
      await startAllAtOnce([
        { name: 'b1', listen: [seedAddr, '/ip4/127.0.0.1/tcp/0/ws'] },
        ...Array.from({ length: n - 1 }, (_, i) => ({ name: `b${i + 2}`, join: [seedAddr] }))
      ], agents, async a => { await views.watch(a) })
      await waitFor('convergence', async () => views.fullAt != null, TIMEOUT_MS, 20)
    } finally {
      views.close()
    }
    const convergeMs = Math.round(views.fullAt! - t0)
    // In name order (they started in any): the faults below hit b10, b9 and b8, never the seed.
    agents.sort((a, b) => Number(a.name.slice(1)) - Number(b.name.slice(1)))
    await Promise.all(agents.map(async a => await recorder.watch(a.name, a.rpc)))

    // Idle cost of the settled cluster, every agent.
    await sleep(SETTLED_AFTER_MS)
    const before = await Promise.all(agents.map(async a => ({ proc: await procSample(a.child.pid!), bytes: await transportBytes(a) })))
    const tIdle = performance.now()
    await sleep(IDLE_WINDOW_MS)
    const after = await Promise.all(agents.map(async a => ({ proc: await procSample(a.child.pid!), bytes: await transportBytes(a) })))
    const seconds = (performance.now() - tIdle) / 1000
    const idleRssMb = mean(after.map(a => a.proc.rssMb))
    const idleCpuPercent = mean(after.map((a, i) => (a.proc.cpuS - before[i].proc.cpuS) / seconds * 100))
    // Every byte is counted twice across the cluster (out at one agent, in at another): per agent, in + out.
    const idleBytesPerSec = mean(after.map((a, i) => (a.bytes - before[i].bytes) / seconds))

    const names = (list: AgentProcess[]): string[] => list.map(a => a.name)

    // kill -STOP, then kill -CONT.
    const frozen = agents[n - 1]
    let observers = agents.filter(a => a !== frozen)
    const tStop = performance.now()
    frozen.child.kill('SIGSTOP')
    await waitFor('frozen failed everywhere', async () => recorder.all(frozen.peerId, ['member:failed'], names(observers), tStop) != null, TIMEOUT_MS)
    const stopFirst = recorder.first(frozen.peerId, ['member:suspect', 'member:failed'], names(observers), tStop)
    const stopAll = recorder.all(frozen.peerId, ['member:failed'], names(observers), tStop)
    const tCont = performance.now()
    frozen.child.kill('SIGCONT')
    await waitFor('resumed alive everywhere', async () => recorder.all(frozen.peerId, ['member:alive', 'member:join'], names(observers), tCont) != null, TIMEOUT_MS)
    const resumeAll = recorder.all(frozen.peerId, ['member:alive', 'member:join'], names(observers), tCont)
    await sleep(SETTLE_MS)

    // kill -9.
    const victim = agents[n - 2]
    observers = agents.filter(a => a !== victim)
    const tKill = performance.now()
    victim.child.kill('SIGKILL')
    await waitFor('killed failed everywhere', async () => recorder.all(victim.peerId, ['member:failed'], names(observers), tKill) != null, TIMEOUT_MS)
    const killFirst = recorder.first(victim.peerId, ['member:suspect', 'member:failed'], names(observers), tKill)
    const killAllFailed = recorder.all(victim.peerId, ['member:failed'], names(observers), tKill)

    // Graceful leave.
    const leaver = agents[n - 3]
    observers = observers.filter(a => a !== leaver)
    const tLeave = performance.now()
    await fetch(`http://${leaver.rpc}/v1/leave`, { method: 'POST', headers: { 'content-type': 'application/json' } })
    await waitFor('leave seen everywhere', async () => recorder.all(leaver.peerId, ['member:leave'], names(observers), tLeave) != null, TIMEOUT_MS)
    const leaveAll = recorder.all(leaver.peerId, ['member:leave'], names(observers), tLeave)

    const targets = new Set([frozen.peerId, victim.peerId, leaver.peerId])
    const falseFailures = recorder.events.filter(e => e.type === 'member:failed' && !targets.has(e.member.peerId)).length

    return {
      convergeMs,
      killFirstDetectMs: ms(tKill, killFirst),
      killAllFailedMs: ms(tKill, killAllFailed),
      stopFirstDetectMs: ms(tStop, stopFirst),
      stopAllFailedMs: ms(tStop, stopAll),
      resumeAllAliveMs: ms(tCont, resumeAll),
      leaveAllSeenMs: ms(tLeave, leaveAll),
      idleRssMb: Math.round(idleRssMb * 10) / 10,
      idleCpuPercent: Math.round(idleCpuPercent * 100) / 100,
      idleBytesPerSec: Math.round(idleBytesPerSec),
      falseFailures
    }
  } finally {
    recorder.close()
    await killAll(agents)
  }
}
