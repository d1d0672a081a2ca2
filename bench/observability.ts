/**
 * What seeing the cluster costs (docs/observability.md):
 * - a scrape of /metrics on a 100-member view, in process (the collectors
 *   and prom-client's exposition over a stand-in agent, test/unit/metrics-fixture.ts);
 * - the idle cost of an agent with all of it on (JSON logs through pino, an
 *   `agent monitor` stream connected, a separate metrics listener, metrics
 *   built), unscraped and scraped every 15 s (over one kept-open connection,
 *   as Prometheus does), against one with none of it
 *   used (text logs, never scraped: pino and prom-client are then never
 *   loaded), side by side in one settled 9-agent cluster over the same idle
 *   window, three agents of each kind compared: what the three that do the
 *   same differ by is the noise of that run. Each run starts the seven
 *   measured agents in another order, and the window opens once the
 *   connections the joins opened have closed.
 */
import { Agent as HttpAgent, get } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { rssMb, threadsCpuS } from './proc.ts'
import { SETTLED_AFTER_MS } from './settled.ts'
import { freePort, killAll, membersViaApi, startAgent, waitFor, type AgentProcess } from '../test/integration/harness.ts'
import { metricsOf } from '../agent/metrics.ts'
import { fakeSource } from '../test/unit/metrics-fixture.ts'

export interface ScrapeRun { medianMs: number, p99Ms: number, bytes: number }
/** What is measured of each agent over one idle window, by its role. */
export type Role = 'off' | 'on' | 'scraped'
/** Idle RSS (MB) and CPU (% of a core) of every measured agent of one window, by role (three `off`, three `on`, one `scraped`). */
export interface IdleCostRun { rssMb: Record<Role, number[]>, cpuPercent: Record<Role, number[]> }

const SCRAPES = 300
/** Long enough for a dozen scrapes, and for two agents doing the same to differ by only a few per cent. */
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

/**
 * The measured agents, three of each that the target compares: one agent's idle CPU differs from
 * another doing the same by up to 10 % over a window (which one a push-pull picks, where a
 * collection falls), about the size of what is measured; the mean of three cuts that by √3.
 */
const ROLES: Role[] = ['off', 'on', 'off', 'on', 'off', 'on', 'scraped']

/** Run `run` (0, 1, …) starts the agents in an order rotated by one from the run before: an agent that joined later does not always play the same role. */
export async function runIdleCostBench (run = 0): Promise<IdleCostRun> {
  const port = await freePort()
  const seedAddr = `/ip4/127.0.0.1/tcp/${port}`
  const agents: AgentProcess[] = []
  const stop = new AbortController()
  try {
    agents.push(await startAgent({ name: 'o1', listen: [seedAddr, '/ip4/127.0.0.1/tcp/0/ws'] }))
    agents.push(await startAgent({ name: 'o2', join: [seedAddr] }))
    const allOn = ['--log-format', 'json', '--metrics-addr', '127.0.0.1:0']
    const subjects: Array<{ role: Role, agent: AgentProcess }> = []
    for (let k = 0; k < ROLES.length; k++) {
      const role = ROLES[(k + run) % ROLES.length]
      const agent = await startAgent({ name: `${role}${k}`, join: [seedAddr], extraArgs: role === 'off' ? [] : allOn })
      agents.push(agent)
      subjects.push({ role, agent })
    }
    await waitFor('cluster converged', async () => {
      const views = await Promise.all(agents.map(membersViaApi))
      return views.every(v => v.length === agents.length && v.every(m => m.status === 'alive'))
    }, 30_000, 100)
    // All of it on: a monitor stream for the whole window and metrics built (one scrape); `scraped` is scraped every 15 s.
    const follow = (a: AgentProcess): Promise<void> => fetch(`http://${a.rpc}/v1/monitor?level=debug`, { signal: stop.signal }).then(async res => {
      const reader = res.body?.getReader()
      while (reader != null && !(await reader.read()).done) { /* drain */ }
    }).catch(() => {})
    const allOnAgents = subjects.filter(s => s.role !== 'off').map(s => s.agent)
    const monitors = allOnAgents.map(follow)
    // As Prometheus scrapes: over one connection it keeps open (fetch would open one per scrape, its idle connections closing after 4 s).
    const scraper = new HttpAgent({ keepAlive: true, maxSockets: 1 })
    const scrape = async (a: AgentProcess): Promise<void> => { await getText(`http://${a.rpc}/metrics`, scraper) }
    for (const a of allOnAgents) await scrape(a)
    const scraped = subjects.find(s => s.role === 'scraped')!.agent
    await sleep(SETTLED_AFTER_MS)
    // The scheduler's nanosecond counters of every thread: /proc/PID/stat's 10-ms ticks were
    // 3 % of what the scrapes cost over the window, the size of the difference measured.
    const sample = async (): Promise<number[]> => await Promise.all(subjects.map(async s => await threadsCpuS(s.agent.child.pid!)))
    const cpu0 = await sample()
    const t0 = performance.now()
    for (let waited = 0; waited < IDLE_WINDOW_MS; waited += SCRAPE_EVERY_MS) {
      await sleep(SCRAPE_EVERY_MS)
      await scrape(scraped)
    }
    const seconds = (performance.now() - t0) / 1000
    const cpu1 = await sample()
    const rss = await Promise.all(subjects.map(async s => await rssMb(s.agent.child.pid!)))
    stop.abort()
    scraper.destroy()
    await Promise.all(monitors)
    const result: IdleCostRun = { rssMb: { off: [], on: [], scraped: [] }, cpuPercent: { off: [], on: [], scraped: [] } }
    subjects.forEach(({ role }, i) => {
      result.rssMb[role].push(Math.round(rss[i] * 100) / 100)
      result.cpuPercent[role].push(Math.round((cpu1[i] - cpu0[i]) / seconds * 100 * 1000) / 1000)
    })
    return result
  } finally {
    stop.abort()
    await killAll(agents)
  }
}

function getText (url: string, agent: HttpAgent): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => { res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`)) })
    }).on('error', reject)
  })
}
