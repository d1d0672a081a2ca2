/**
 * How a kill -9's verdict spreads between real agents: N agents of whatever
 * the harness runs (AGENT_ENTRY=agent/bin.js AGENT_PREFER_BUNDLE=1 for the
 * bundle, after `npm run build`), joined through agent 1, idle for IDLE_S
 * seconds (past the close of the join connections), then the last one is
 * killed (SIGNAL=SIGSTOP freezes it instead). Prints when each other agent had
 * it failed (ms after the signal), and the events of the last and first few,
 * as each agent's event stream said; and the CPU all the others used in the
 * 3 s after the signal against as long a window of idle before it, and the
 * SWIM messages they sent and took and the connections they opened in those 3 s;
 * and the same times as the agents logged them (the streams are read by this
 * one process, which takes many agents' events in one turn of its loop).
 *
 *   [SIGNAL=SIGSTOP] node bench/verdict-spread.ts [N=50] [IDLE_S=70]
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort, killAll, startAllAtOnce, type AgentProcess, type StartOptions } from '../test/integration/harness.ts'
import { ClusterViews, type ViewEvent } from './views.ts'
import { threadsCpuS } from './proc.ts'

const n = Number(process.argv[2] ?? 50)
const idleS = Number(process.argv[3] ?? 70)
const signal = (process.env.SIGNAL ?? 'SIGKILL') as NodeJS.Signals
const CPU_WINDOW_MS = 3000
const agents: AgentProcess[] = []
const views = new ClusterViews(n)
try {
  const seed = `/ip4/127.0.0.1/tcp/${await freePort()}`
  const launches: StartOptions[] = Array.from({ length: n }, (_, i) => ({ name: `s${i + 1}`, listen: i === 0 ? [seed] : undefined, join: i === 0 ? [] : [seed], startTimeoutMs: 120_000 }))
  const t0 = performance.now()
  await startAllAtOnce(launches, agents, async a => { await views.watch(a) })
  while (views.fullAt == null && performance.now() - t0 < 120_000) await sleep(50)
  console.log(`converged: ${views.fullAt == null ? 'no' : `${Math.round(views.fullAt - t0)} ms`}; idle ${idleS} s`)
  await sleep(idleS * 1000 - CPU_WINDOW_MS)
  const victim = agents.find(a => a.name === `s${n}`)!
  const others = agents.filter(a => a !== victim)
  const cpuOfOthers = async (): Promise<number> => (await Promise.all(others.map(async a => await threadsCpuS(a.child.pid!)))).reduce((s, x) => s + x, 0)
  /** SWIM messages sent and taken, and connections opened either way, by all the others together. */
  const trafficOfOthers = async (): Promise<{ messages: number, connections: number }> => (await Promise.all(others.map(async a => {
    const { transport } = await (await fetch(`http://${a.rpc}/v1/stats`)).json() as { transport: { messagesIn: number, messagesOut: number, connectionsOpened: { inbound: number, outbound: number } } }
    return { messages: transport.messagesIn + transport.messagesOut, connections: transport.connectionsOpened.inbound + transport.connectionsOpened.outbound }
  }))).reduce((s, x) => ({ messages: s.messages + x.messages, connections: s.connections + x.connections }), { messages: 0, connections: 0 })
  const cpuIdleFrom = await cpuOfOthers()
  await sleep(CPU_WINDOW_MS)
  const cpuKill = await cpuOfOthers()
  const trafficKill = await trafficOfOthers()
  const tKill = performance.now()
  const wallKill = Date.now()
  victim.child.kill(signal)
  const observers = others.map(a => a.name)
  const cpuReport = sleep(CPU_WINDOW_MS).then(async () => {
    const used = await cpuOfOthers() - cpuKill
    const traffic = await trafficOfOthers()
    const messages = traffic.messages - trafficKill.messages
    // Each connection counts at both ends: halved, it is the handshakes made.
    const connections = (traffic.connections - trafficKill.connections) / 2
    console.log(`CPU of the other ${others.length} agents over ${CPU_WINDOW_MS / 1000} s: ${used.toFixed(2)} s after ${signal}, ${(cpuKill - cpuIdleFrom).toFixed(2)} s idle before; ` +
      `SWIM messages in + out after it: ${(messages / others.length).toFixed(1)} per agent; connections opened between them: ${connections}`)
  })
  while (views.allSaw(victim.peerId, 'failed', observers, tKill) == null && performance.now() - tKill < 30_000) await sleep(20)
  const events = views.events.filter(e => e.at >= tKill && e.peerId === victim.peerId)
  const failedAt = new Map<string, number>()
  for (const e of events) if (e.status === 'failed' && !failedAt.has(e.observer)) failedAt.set(e.observer, Math.round(e.at - tKill))
  const order = [...failedAt.entries()].sort((a, b) => a[1] - b[1])
  const first = views.first(victim.peerId, ['suspect', 'failed'], observers, tKill)
  console.log(`first suspected ${first == null ? 'never' : `${Math.round(first - tKill)} ms`} after ${signal}`)
  console.log(`failed at (ms after ${signal}): ${order.map(([o, t]) => `${o} ${t}`).join(', ')}`)
  // The agents' own log times: the streams above are read by this one process, which takes
  // the events of many agents in one turn of its loop, so their times come in steps.
  const logged = (status: string): number[] => others.map(a => loggedAt(a.output(), status, victim.name, wallKill) - wallKill).filter(Number.isFinite).sort((a, b) => a - b)
  const logFailed = logged('failed')
  const logSuspect = logged('suspect')
  console.log(`per the agents' logs (ms after ${signal}): first suspect ${logSuspect[0] ?? 'never'}, first failed ${logFailed[0] ?? 'never'}, ` +
    `failed in ${logFailed.length} of ${others.length}, the last at ${logFailed.at(-1) ?? 'never'}`)
  const line = (e: ViewEvent): string => `${Math.round(e.at - tKill)} ${e.type} ${e.status}${e.cause != null ? ` (${e.cause})` : ''}`
  for (const [o] of [...order.slice(0, 3), ...order.slice(-4)]) console.log(`${o}: ${events.filter(e => e.observer === o).map(line).join('; ')}`)
  await cpuReport
} finally {
  views.close()
  await killAll(agents)
}

/** Wall-clock time of the first `member:<status> <member>` line at or after `since` in an agent's text log (NaN: none). */
function loggedAt (output: string, status: string, member: string, since: number): number {
  for (const m of output.matchAll(new RegExp(`^(\\S+Z) member:${status} ${member} `, 'gm'))) {
    const at = Date.parse(m[1])
    if (at >= since) return at
  }
  return NaN
}
