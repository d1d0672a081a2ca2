/**
 * What seeing the cluster costs (docs/observability.md):
 * - a scrape of /metrics on a 100-member view, in process (the collectors
 *   and prom-client's exposition over a stand-in agent, test/unit/metrics-fixture.ts);
 * - the idle cost of an agent with all of it on (JSON logs through pino, an
 *   `agent monitor` stream connected, a separate metrics listener, metrics
 *   built), unscraped and scraped every 15 s, against one with none of it
 *   used (text logs, never scraped: pino and prom-client are then never
 *   loaded), side by side in one settled 5-agent cluster over the same idle
 *   window. Two agents doing the same differ by about ±4 % over such a
 *   window: a difference within that is noise.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { cpuTimes, rssMb } from './proc.ts'
import { freePort, killAll, membersViaApi, startAgent, waitFor, type AgentProcess } from '../test/integration/harness.ts'
import { metricsOf } from '../agent/metrics.ts'
import { fakeSource } from '../test/unit/metrics-fixture.ts'

export interface ScrapeRun { medianMs: number, p99Ms: number, bytes: number }
/** Idle RSS (MB) and CPU (% of a core) of three agents over one window: none of it used; all of it on but never scraped; all of it on and scraped every 15 s. */
export interface IdleCostRun { rssOffMb: number, rssOnMb: number, rssScrapedMb: number, cpuOffPercent: number, cpuOnPercent: number, cpuScrapedPercent: number }

const SCRAPES = 300
/** Long enough that the CPU clock's 10 ms ticks are under 2 % of what an idle agent uses. */
const IDLE_WINDOW_MS = 120_000
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
    agents.push(await startAgent({ name: 'o2', join: [seedAddr] }))
    const allOn = ['--log-format', 'json', '--metrics-addr', '127.0.0.1:0']
    const off = await startAgent({ name: 'off', join: [seedAddr] })
    const on = await startAgent({ name: 'on', join: [seedAddr], extraArgs: allOn })
    const scraped = await startAgent({ name: 'scraped', join: [seedAddr], extraArgs: allOn })
    agents.push(off, on, scraped)
    await waitFor('cluster converged', async () => {
      const views = await Promise.all(agents.map(membersViaApi))
      return views.every(v => v.length === agents.length && v.every(m => m.status === 'alive'))
    }, 30_000, 100)
    // All of it on: a monitor stream for the whole window and metrics built (one scrape); `scraped` is scraped every 15 s.
    const follow = (a: AgentProcess): Promise<void> => fetch(`http://${a.rpc}/v1/monitor?level=debug`, { signal: stop.signal }).then(async res => {
      const reader = res.body?.getReader()
      while (reader != null && !(await reader.read()).done) { /* drain */ }
    }).catch(() => {})
    const monitors = [follow(on), follow(scraped)]
    const scrape = async (a: AgentProcess): Promise<void> => { await (await fetch(`http://${a.rpc}/metrics`)).text() }
    await Promise.all([scrape(on), scrape(scraped)])
    await sleep(5000)
    const subjects = [off, on, scraped]
    const sample = async (a: AgentProcess): Promise<number> => { const t = await cpuTimes(a.child.pid!); return t.userS + t.systemS }
    const cpu0 = await Promise.all(subjects.map(sample))
    const t0 = performance.now()
    for (let waited = 0; waited < IDLE_WINDOW_MS; waited += SCRAPE_EVERY_MS) {
      await sleep(SCRAPE_EVERY_MS)
      await scrape(scraped)
    }
    const seconds = (performance.now() - t0) / 1000
    const cpu1 = await Promise.all(subjects.map(sample))
    const rss = await Promise.all(subjects.map(async a => await rssMb(a.child.pid!)))
    stop.abort()
    await Promise.all(monitors)
    const percent = (i: number): number => Math.round((cpu1[i] - cpu0[i]) / seconds * 100 * 1000) / 1000
    return { rssOffMb: rss[0], rssOnMb: rss[1], rssScrapedMb: rss[2], cpuOffPercent: percent(0), cpuOnPercent: percent(1), cpuScrapedPercent: percent(2) }
  } finally {
    stop.abort()
    await killAll(agents)
  }
}
