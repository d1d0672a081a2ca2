/**
 * `npm run bench:lab`: network faults on 5 real agents (lan profile) in the
 * network lab (test/lab/netlab.ts, needs root), fault -> verdict times.
 *
 * Each run starts a fresh lab + cluster and applies, in order: partition
 * {1,2}|{3,4,5} then heal; one-way cut node1<-/-node2; network A cut for
 * node3 (also: how long until every other agent shows node3 alive with its
 * network-A path down, polled); pulled cable on node4 then plug in; kill -9
 * of node5. Between faults the lab is healed and the cluster must be all-alive again (else the next
 * fault gets a fresh cluster). LAB_RUNS runs (default 3); Markdown table of
 * medians on stdout, progress on stderr.
 *
 * Times come from the agents' own `/v1/events` streams (`curl -sN` inside each
 * namespace, arrival time in this process, ~ms resolution), measured from the
 * moment the fault rule was in place; end conditions are confirmed by polling
 * `GET /v1/members` every 250 ms (the fallback time when an event was missed).
 */
import { allSee, labClusterAvailable, startLabCluster, type LabAgent, type LabCluster } from '../test/lab/lab-cluster.ts'
import { median } from './stats.ts'

const RUNS = Number(process.env.LAB_RUNS ?? 3)
const N = 5

interface Sample { value: number, note?: string }
/** One table row per (fault, verdict). */
const rows = new Map<string, { fault: string, verdict: string, unit: string, samples: Sample[] }>()
function record (fault: string, verdict: string, unit: string, value: number, note?: string): void {
  const key = `${fault}\n${verdict}`
  const row = rows.get(key) ?? { fault, verdict, unit, samples: [] }
  row.samples.push({ value, note })
  rows.set(key, row)
  console.error(`  ${fault} → ${verdict}: ${Number.isNaN(value) ? 'not reached' : `${Math.round(value)}${unit === '' ? '' : ' ' + unit}`}${note != null ? ` (${note})` : ''}`)
}

/** Latest first-failed event over every (observer, target) pair, relative to t0; NaN if some pair has none. */
function failedEverywhereMs (c: LabCluster, t0: number, observers: LabAgent[], targets: LabAgent[]): number {
  let worst = 0
  for (const o of observers) {
    for (const t of targets) {
      const e = c.events.find(x => x.t >= t0 && x.observer === o.name && x.member.peerId === t.peerId && x.type === 'member:failed')
      if (e == null) return NaN
      worst = Math.max(worst, e.t - t0)
    }
  }
  return worst
}

/** Latest alive/join event in [t0, until], relative to t0 (NaN if none). */
function lastRecoveryMs (c: LabCluster, t0: number, until: number): number {
  const list = c.events.filter(x => x.t >= t0 && x.t <= until && (x.type === 'member:alive' || x.type === 'member:join'))
  return list.length === 0 ? NaN : Math.max(...list.map(x => x.t - t0))
}

/** Latest first member:degraded event about `target` over `observers`, relative to t0; NaN if one has none. */
function pathDownEventsMs (c: LabCluster, t0: number, observers: LabAgent[], target: LabAgent): number {
  let worst = 0
  for (const o of observers) {
    const e = c.events.find(x => x.t >= t0 && x.observer === o.name && x.member.peerId === target.peerId && x.type === 'member:degraded')
    if (e == null) return NaN
    worst = Math.max(worst, e.t - t0)
  }
  return worst
}

function falseFailures (c: LabCluster, t0: number, t1: number, targets?: LabAgent[]): Array<{ t: number, label: string }> {
  const ids = targets?.map(t => t.peerId)
  return c.events.filter(x => x.t >= t0 && x.t <= t1 && x.type === 'member:failed' && (ids == null || ids.includes(x.member.peerId)))
    .map(x => ({ t: x.t - t0, label: `${x.observer}→${x.member.name}` }))
}

/** Heals and waits for all alive; returns false (after logging) when the cluster did not recover. */
async function healAndSettle (c: LabCluster, label: string): Promise<boolean> {
  await c.lab.heal()
  try {
    await c.waitUntil(`all alive after ${label}`, v => allSee(v, c.agents, c.agents, 'alive'), 30_000)
    return true
  } catch (err) {
    console.error(`  (cluster did not recover within 30 s after ${label}; next fault on a fresh cluster)\n${(err as Error).message.split('\n').slice(0, 8).join('\n')}`)
    return false
  }
}

async function fresh (c: LabCluster | undefined): Promise<LabCluster> {
  await c?.destroy()
  return await startLabCluster(N)
}

async function oneRun (): Promise<void> {
  let c = await startLabCluster(N)
  try {
    // Partition {1,2} | {3,4,5}, then heal.
    {
      const minority = c.agents.slice(0, 2)
      const majority = c.agents.slice(2)
      await c.lab.partition([minority.map(a => a.node), majority.map(a => a.node)])
      const t0 = performance.now()
      const r = await c.waitUntil('both sides failed', v => allSee(v, majority, minority, 'failed') && allSee(v, minority, majority, 'failed'), 60_000)
        .catch(() => undefined)
      const ev = Math.max(failedEverywhereMs(c, t0, majority, minority), failedEverywhereMs(c, t0, minority, majority))
      const causes = new Set<string>()
      for (const [, list] of r?.views ?? new Map()) for (const m of list ?? []) if (m.status === 'failed') causes.add(m.cause ?? '?')
      record('partition {1,2} | {3,4,5}', 'both sides show the other failed', 'ms', r == null ? NaN : (Number.isNaN(ev) ? r.ms : ev), `cause ${[...causes].join('/') || '-'}`)
      await c.lab.heal()
      const tHeal = performance.now()
      const h = await c.waitUntil('all alive after heal', v => allSee(v, c.agents, c.agents, 'alive'), 60_000).catch(() => undefined)
      const rec = h == null ? NaN : lastRecoveryMs(c, tHeal, tHeal + h.ms + 1)
      record('heal after partition', 'all five see all five alive', 'ms', h == null ? NaN : (Number.isNaN(rec) ? h.ms : rec))
      if (h == null) c = await fresh(c)
    }

    // One-way cut: node1 can send to node2, receives nothing from it. 20 s.
    {
      const [a, b] = [c.agents[0], c.agents[1]]
      await c.lab.cutOneWay(a.node, b.node)
      const t0 = performance.now()
      await c.observe(20_000, () => {})
      const ff = falseFailures(c, t0, performance.now())
      record('one-way cut node1 ↚ node2 (20 s)', 'false failures (member:failed events)', '', ff.length, ff.length > 0 ? `first at ${Math.round(ff[0].t)} ms: ${ff.map(x => x.label).join(' ')}` : undefined)
      if (!await healAndSettle(c, 'one-way cut')) c = await fresh(c)
    }

    // Network A cut for node3 (B still works). 15 s.
    {
      const x = c.agents[2]
      const others = c.agents.filter(a => a !== x)
      await c.lab.cutNetwork(x.node, 'A')
      const t0 = performance.now()
      let pathDown = NaN
      await c.observe(15_000, views => {
        if (Number.isNaN(pathDown) && others.every(o => {
          const m = views.get(o.name)?.find(v => v.peerId === x.peerId)
          return m?.status === 'alive' && m.degraded && m.paths.find(p => p.addr.includes(`/${x.node.addrA}/`))?.state === 'down'
        })) pathDown = performance.now() - t0
      })
      const degraded = pathDownEventsMs(c, t0, others, x)
      const ff = falseFailures(c, t0, performance.now())
      record('network A cut for node3 (15 s)', 'false failures (member:failed events)', '', ff.length, ff.length > 0 ? `first at ${Math.round(ff[0].t)} ms: ${[...new Set(ff.map(f => f.label))].join(' ')}` : undefined)
      record('network A cut for node3', 'member:degraded for node3 from every other agent', 'ms', degraded, 'events')
      record('network A cut for node3', 'every other agent shows node3 alive, path A down', 'ms', pathDown, 'polled, 250 ms rounds')
      if (!await healAndSettle(c, 'network A cut')) c = await fresh(c)
    }

    // Pulled cable on node4, then plug in.
    {
      const x = c.agents[3]
      const others = c.agents.filter(a => a !== x)
      await c.lab.pullPlug(x.node)
      const t0 = performance.now()
      const r = await c.waitUntil('node4 failed everywhere', v => allSee(v, others, [x], 'failed'), 60_000, others).catch(() => undefined)
      const ev = failedEverywhereMs(c, t0, others, [x])
      const causes = new Set<string>()
      for (const o of others) for (const m of r?.views.get(o.name) ?? []) if (m.peerId === x.peerId) causes.add(m.cause ?? '?')
      record('pull plug of node4', 'failed everywhere', 'ms', r == null ? NaN : (Number.isNaN(ev) ? r.ms : ev), `cause ${[...causes].join('/') || '-'}`)
      await c.lab.plugIn(x.node)
      const tIn = performance.now()
      const h = await c.waitUntil('all alive after plug in', v => allSee(v, c.agents, c.agents, 'alive'), 60_000).catch(() => undefined)
      const rec = h == null ? NaN : lastRecoveryMs(c, tIn, tIn + h.ms + 1)
      record('plug node4 back in', 'all five see all five alive', 'ms', h == null ? NaN : (Number.isNaN(rec) ? h.ms : rec))
      if (h == null) c = await fresh(c)
    }

    // kill -9 of node5.
    {
      const x = c.agents[4]
      const others = c.agents.filter(a => a !== x)
      await c.lab.crash(x.child)
      const t0 = performance.now()
      const r = await c.waitUntil('node5 failed everywhere', v => allSee(v, others, [x], 'failed'), 60_000, others).catch(() => undefined)
      const ev = failedEverywhereMs(c, t0, others, [x])
      const causes = new Set<string>()
      for (const o of others) for (const m of r?.views.get(o.name) ?? []) if (m.peerId === x.peerId) causes.add(m.cause ?? '?')
      record('kill -9 of node5', 'failed everywhere', 'ms', r == null ? NaN : (Number.isNaN(ev) ? r.ms : ev), `cause ${[...causes].join('/') || '-'}`)
    }
  } finally {
    await c.destroy()
  }
}

const avail = await labClusterAvailable()
if (!avail.ok) {
  console.log(`# SKIP network lab: ${avail.reason}`)
  process.exit(0)
}

for (let i = 0; i < RUNS; i++) {
  console.error(`run ${i + 1}/${RUNS}`)
  await oneRun()
}

const fmt = (v: number, unit: string): string => Number.isNaN(v) ? 'not reached' : `${Math.round(v)}${unit === '' ? '' : ' ' + unit}`
console.log(`\nNetwork lab: 5 agents (lan profile), one per network namespace, TCP on network A + WebSocket on network B; ${RUNS} run(s); ${new Date().toISOString().slice(0, 10)}; Node ${process.version}`)
console.log('Times from each agent\'s /v1/events stream (curl -sN inside its namespace; ~ms resolution) after the fault rule was in place; end states confirmed by polling /v1/members every 250 ms.\n')
console.log('| fault | verdict | median | min–max | notes |')
console.log('|---|---|---|---|---|')
for (const { fault, ...row } of rows.values()) {
  const values = row.samples.map(s => s.value)
  const ok = values.filter(v => !Number.isNaN(v))
  const range = ok.length === 0 ? '–' : `${fmt(Math.min(...ok), row.unit)}–${fmt(Math.max(...ok), row.unit)}`
  const missed = values.length - ok.length
  const notes = [...new Set(row.samples.map(s => s.note).filter((n): n is string => n != null))].slice(0, 3).join('; ')
  console.log(`| ${fault.replaceAll('|', '\\|')} | ${row.verdict} | ${fmt(median(values), row.unit)} | ${range}${missed > 0 ? ` (${missed} not reached)` : ''} | ${notes.replaceAll('|', '\\|')} |`)
}
process.exit(0)
