/**
 * `npm run bench:storm`: a diagnostic of the start storm, not a benchmark.
 * Launches N agents at once on loopback, all joining the first (as
 * bench:scale does), and prints every 5 s the CPU the agents used (in cores,
 * and the five busiest), how many views are full and how many members the
 * smallest and the median view hold alive; at the end, per-agent figures from
 * /v1/stats (connections opened, inbound handshakes failed, messages, syncs
 * by reason, failed sends) and the CPU each agent used (user, system).
 * docs/scale.md says what it found.
 *
 * STORM_N=100             agents
 * STORM_WAIT_MS=150000    bound on the wait for every view to be full
 * STORM_SETTLE_MS=5000    then this long before the count of false failures (as test/integration/scale.test.ts)
 * STORM_LOGS=DIR          write each agent's output there (with DEBUG=cluster:swim,
 *                         every failed dial and its reason)
 * STORM_SEED_PROFILE=DIR  the seed runs the sources (names in the profile) with
 *                         --cpu-prof, and writes its CPU profile there when it stops
 * AGENT_ENTRY             what each agent runs (npm run bench:storm sets the bundle)
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { ClusterViews, type ViewEvent } from './views.ts'
import { cpuTimes } from './proc.ts'
import { mean } from './stats.ts'
import { describeSpans, suspicionSpans } from './suspicion-spans.ts'
import { LAN } from '../membership/index.ts'
import { suspicionMinTimeoutMs } from '../membership/formulas.ts'
import { warmUp } from './warm-up.ts'
import { freePort, killAll, startAllAtOnce, type AgentProcess } from '../test/integration/harness.ts'

const n = Number(process.env.STORM_N ?? 100)
const waitMs = Number(process.env.STORM_WAIT_MS ?? 150_000)
const settleMs = Number(process.env.STORM_SETTLE_MS ?? 5000)
const logDir = process.env.STORM_LOGS
const seedProfileDir = process.env.STORM_SEED_PROFILE
/** The seed's launch options when it is profiled: the sources, so that the profile names functions. */
const seedProfiled = seedProfileDir == null
  ? {}
  : { nodeEntry: fileURLToPath(new URL('../agent/bin.js', import.meta.url)), env: { AGENT_RUN_SOURCES: '1', NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${seedProfileDir}` } }
/** User and system CPU seconds of a process so far ([0, 0] once it is gone). */
async function cpuOf (pid: number): Promise<[number, number]> {
  try {
    const { userS, systemS } = await cpuTimes(pid)
    return [userS, systemS]
  } catch {
    return [0, 0]
  }
}

/** Mean, median and largest of a list of numbers. */
function spread (values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b)
  return `mean ${mean(sorted).toFixed(1)}, median ${sorted[Math.floor(sorted.length / 2)]}, max ${sorted[sorted.length - 1]}`
}

// npm run bench:storm rebuilds the bundle: without this every storm would start cold
await warmUp()

const agents: AgentProcess[] = []
const views = new ClusterViews(n)
const seed = `/ip4/127.0.0.1/tcp/${await freePort()}`
const t0 = performance.now()
/** The launch on the wall clock, for the agents' log timestamps. */
const launchedAt = Date.now()
const secondsSinceLaunch = (): string => ((performance.now() - t0) / 1000).toFixed(0)
try {
  await startAllAtOnce(Array.from({ length: n }, (_, i) => ({
    name: `s${i + 1}`,
    listen: i === 0 ? [seed, '/ip4/127.0.0.1/tcp/0/ws'] : undefined,
    join: i === 0 ? [] : [seed],
    startTimeoutMs: waitMs,
    ...(i === 0 ? seedProfiled : {})
  })), agents, async a => { await views.watch(a) })
  console.log(`all ${n} printed their addresses after ${secondsSinceLaunch()} s`)

  const cpuTotals = async (): Promise<number[]> => await Promise.all(agents.map(async a => (await cpuOf(a.child.pid!)).reduce((s, x) => s + x, 0)))
  let before = await cpuTotals()
  let beforeAt = performance.now()
  while (performance.now() < t0 + waitMs && views.fullAt == null) {
    await sleep(5000)
    const now = await cpuTotals()
    const at = performance.now()
    const used = now.map((c, i) => c - before[i])
    const busiest = used.map((c, i) => ({ c, name: agents[i].name })).sort((a, b) => b.c - a.c).slice(0, 5)
    const alive = views.aliveCounts()
    const cores = used.reduce((s, x) => s + x, 0) / ((at - beforeAt) / 1000)
    console.log(`${secondsSinceLaunch()} s: ${cores.toFixed(2)} cores (busiest ${busiest.map(b => `${b.name} ${b.c.toFixed(2)} s`).join(', ')}); ` +
      `${views.fullCount} views full; alive per view: smallest ${alive[0]}, median ${alive[Math.floor(alive.length / 2)]}`)
    if (views.fullCount >= n - 3) console.log(`  ${views.gaps(new Map(agents.map(a => [a.peerId, a.name])), 3)}`)
    before = now
    beforeAt = at
  }
  console.log(views.fullAt == null
    ? `not every view full after ${secondsSinceLaunch()} s: ${views.fullCount} of ${n}; smallest ${views.smallest(5)}`
    : `every view full ${((views.fullAt - t0) / 1000).toFixed(1)} s after launch`)
  // a suspicion raised in the storm may still run out just after
  await sleep(settleMs)

  // Every failed mark is false (nothing was stopped): who was marked, how often, why and when.
  const nameOf = new Map(agents.map(a => [a.peerId, a.name]))
  const marks = views.falseFailures(new Set(), t0)
  const byMember = new Map<string, ViewEvent[]>()
  for (const e of marks) {
    const list = byMember.get(e.peerId) ?? []
    list.push(e)
    byMember.set(e.peerId, list)
  }
  // when a marked member joined: the one that joins last is the one starved longest
  const joinedAt = (peerId: string): string => {
    const agent = agents.find(a => a.peerId === peerId)
    if (agent?.name === 's1') return 'the seed'
    const line = agent?.output().match(/^(\S+) joined the cluster through/m)
    return line == null ? 'never joined' : `joined at ${((Date.parse(line[1]) - launchedAt) / 1000).toFixed(0)} s`
  }
  console.log(`false failures: ${marks.length}, of ${byMember.size} members${[...byMember].slice(0, 5).map(([id, es]) =>
    `; ${nameOf.get(id) ?? id} by ${es.length} (${[...new Set(es.map(e => e.cause))].join(', ')}) from ${((es[0].at - t0) / 1000).toFixed(0)} s, ${joinedAt(id)}`).join('')}`)
  // the minimum suspicion timeout at this size (the agents run the lan profile), which a refutation has to beat
  const minSuspicionMs = suspicionMinTimeoutMs(LAN.suspicionMult, n, LAN.probeIntervalMs)
  console.log(`suspicions, per observer, until the member was seen alive: ${describeSpans(suspicionSpans(agents.map(a => a.output())), minSuspicionMs)}`)
  const stats = await Promise.all(agents.map(async a => await (await fetch(`http://${a.rpc}/v1/stats`)).json() as any))
  const row = (label: string, pick: (s: any) => number): void => { console.log(`${label}: ${spread(stats.map(pick))}`) }
  row('connections opened, inbound', s => s.transport.connectionsOpened.inbound)
  row('connections opened, outbound', s => s.transport.connectionsOpened.outbound)
  row('connections open now', s => s.transport.connections)
  row('SWIM messages sent', s => s.transport.messagesOut)
  row('sends failed', s => s.transport.dropped.sendFailed)
  row('gossip sends that waited for the peer\'s dial', s => s.transport.gossipDialWaits.yielded)
  row('gossip sends that waited for the ring to settle', s => s.transport.gossipDialWaits.settled)
  row('  either wait ended by a connection', s => s.transport.gossipDialWaits.connected)
  row('  dropped, no longer a neighbour', s => s.transport.gossipDialWaits.noLongerNeighbour)
  const handshakesFailed = (s: any): number => s.inbound.upgradesFailed.tcp + s.inbound.upgradesFailed.ws
  row('inbound handshakes that failed', handshakesFailed)
  // `agents` is in the order they started, which need not put the seed first
  const seedStats = stats[agents.findIndex(a => a.name === 's1')]
  const byType = (counts: Record<string, number>): string => Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([t, c]) => `${t} ${c}`).join(', ')
  console.log(`  the seed (s1): ${seedStats.transport.connectionsOpened.inbound} inbound connections, ` +
    `${handshakesFailed(seedStats)} inbound handshakes failed, ${seedStats.membership.syncsSentFor.answer} joins answered; ` +
    `SWIM messages in: ${byType(seedStats.transport.messagesByType.in)}; out: ${byType(seedStats.transport.messagesByType.out)}`)
  row('probes sent', s => s.membership.probesSent)
  row('  failed (no ack in time)', s => s.membership.probeFailures)
  row('pings that waited for a handshake', s => s.transport.pingsWaitedForConnection)
  row('indirect probes asked for', s => s.membership.indirectProbesSent)
  row('suspicions raised', s => s.membership.suspicionsRaised)
  row('suspicions held for slow refutations', s => s.membership.suspicionsHeld ?? 0)
  for (const reason of Object.keys(stats[0].membership.syncsSentFor)) row(`full syncs sent (${reason})`, s => s.membership.syncsSentFor[reason])
  const cpu = await Promise.all(agents.map(async a => await cpuOf(a.child.pid!)))
  console.log(`CPU per agent since launch: user ${(cpu.reduce((s, c) => s + c[0], 0) / n).toFixed(2)} s, system ${(cpu.reduce((s, c) => s + c[1], 0) / n).toFixed(2)} s`)

  if (logDir != null) {
    await mkdir(logDir, { recursive: true })
    await Promise.all(agents.map(async a => { await writeFile(join(logDir, `${a.name}.log`), a.output()) }))
    console.log(`agent output in ${logDir}`)
  }
} finally {
  views.close()
  const profiled = seedProfileDir == null ? undefined : agents.find(a => a.name === 's1')
  if (profiled != null) {
    // a profile is written on exit: stop the seed gracefully first (bounded)
    profiled.child.kill('SIGTERM')
    await Promise.race([profiled.exited, sleep(15_000)])
    console.log(`the seed's CPU profile in ${seedProfileDir}`)
  }
  await killAll(agents)
}
