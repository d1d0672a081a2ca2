/**
 * What seeing the cluster costs (docs/observability.md):
 * - a scrape of /metrics on a 100-member view, in process (the collectors
 *   and prom-client's exposition over a stand-in agent, test/unit/metrics-fixture.ts);
 * - the idle cost of an agent with all of it on (JSON logs through pino,
 *   /metrics scraped every 15 s, an `agent monitor` stream connected, a
 *   separate metrics listener) against one with none of it used (text logs,
 *   never scraped: pino and prom-client are then never loaded), side by side
 *   in one settled 5-agent cluster over the same idle window.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { cpuTimes, rssMb } from './proc.ts'
import { freePort, killAll, membersViaApi, startAgent, waitFor, type AgentProcess } from '../test/integration/harness.ts'
import { metricsOf } from '../agent/metrics.ts'
import { fakeSource } from '../test/unit/metrics-fixture.ts'

export interface ScrapeRun { medianMs: number, p99Ms: number, bytes: number }
export interface IdleCostRun { rssOffMb: number, rssOnMb: number, cpuOffPercent: number, cpuOnPercent: number }

const SCRAPES = 300
const IDLE_WINDOW_MS = 60_000
const SCRAPE_EVERY_MS = 15_000

export async function runScrapeBench (members = 100): Promise<ScrapeRun> {
  const metrics = await metricsOf(fakeSource(members))
  for (let i = 0; i < 30; i++) await metrics.scrape() // JIT warm-up
  const times: number[] = []
  let bytes = 0
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now()
    bytes = (await metrics.scrape()).length
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  const round = (x: number): number => Math.round(x * 100) / 100
  return { medianMs: round(times[Math.floor(times.length / 2)]), p99Ms: round(times[Math.floor(times.length * 0.99)]), bytes }
}

export async function runIdleCostBench (): Promise<IdleCostRun> {
  const port = await freePort()
  const seedAddr = `/ip4/127.0.0.1/tcp/${port}`
  const agents: AgentProcess[] = []
  const stop = new AbortController()
  try {
    agents.push(await startAgent({ name: 'o1', listen: [seedAddr, '/ip4/127.0.0.1/tcp/0/ws'] }))
    agents.push(...await Promise.all([2, 3].map(async i => await startAgent({ name: `o${i}`, join: [seedAddr] }))))
    const off = await startAgent({ name: 'off', join: [seedAddr] })
    const on = await startAgent({ name: 'on', join: [seedAddr], extraArgs: ['--log-format', 'json', '--metrics-addr', '127.0.0.1:0'] })
    agents.push(off, on)
    await waitFor('cluster converged', async () => {
      const views = await Promise.all(agents.map(membersViaApi))
      return views.every(v => v.length === agents.length && v.every(m => m.status === 'alive'))
    }, 30_000, 100)
    // All of it on: a monitor stream for the whole window, and a scrape every 15 s.
    const monitor = fetch(`http://${on.rpc}/v1/monitor?level=debug`, { signal: stop.signal }).then(async res => {
      const reader = res.body?.getReader()
      while (reader != null && !(await reader.read()).done) { /* drain */ }
    }).catch(() => {})
    const scrape = async (): Promise<void> => { await (await fetch(`http://${on.rpc}/metrics`)).text() }
    await scrape()
    await sleep(5000)
    const sample = async (a: AgentProcess): Promise<number> => { const t = await cpuTimes(a.child.pid!); return t.userS + t.systemS }
    const [cpuOff0, cpuOn0] = await Promise.all([sample(off), sample(on)])
    const t0 = performance.now()
    for (let waited = 0; waited < IDLE_WINDOW_MS; waited += SCRAPE_EVERY_MS) {
      await sleep(SCRAPE_EVERY_MS)
      await scrape()
    }
    const seconds = (performance.now() - t0) / 1000
    const [cpuOff1, cpuOn1] = await Promise.all([sample(off), sample(on)])
    const [rssOffMb, rssOnMb] = await Promise.all([rssMb(off.child.pid!), rssMb(on.child.pid!)])
    stop.abort()
    await monitor
    const percent = (a: number, b: number): number => Math.round((b - a) / seconds * 100 * 100) / 100
    return { rssOffMb, rssOnMb, cpuOffPercent: percent(cpuOff0, cpuOff1), cpuOnPercent: percent(cpuOn0, cpuOn1) }
  } finally {
    stop.abort()
    await killAll(agents)
  }
}
