/**
 * Five real agent processes (lan profile), one per lab node namespace, each
 * listening on both lab networks (TCP on A, WebSocket on B), under real
 * network faults injected at the lab's switch. Observed as a user would:
 * `GET /v1/members` (curl inside each namespace, polled at most every 250 ms),
 * the `/v1/events` stream, and `agent members --json` at least once per scenario.
 *
 * Bounds are generous: this checks verdicts, `bench/lab.ts` measures times.
 * Each scenario runs on a fresh lab + cluster, destroyed in `after` even on failure.
 *
 * Scenario 1 also asserts the paths: every other agent shows node3 alive,
 * its network-A path `down` and its network-B path `up` (`degraded: true`),
 * within PATH_DOWN_BOUND_MS of the cut (the issue asks for 2 probe periods,
 * 2 s on lan; the measured time is printed, and `bench/lab.ts` reports it),
 * and emits `member:degraded` for it.
 *
 * Scenario 2 also asserts the verdicts: `cause === 'partition'` on both sides,
 * and the `side` that `GET /v1/health` reports (minority for {1,2}, majority for {3,4,5}).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { allSee, formatViews, labClusterAvailable, startLabCluster, statusIn, type LabAgent, type LabCluster, type Views } from './lab-cluster.ts'

const N = 5
/** lan probe interval: the "2 probe periods" of the issue are 2 s. */
const PROBE_INTERVAL_MS = 1000
/** Generous against CI noise (polling rounds of 250 ms plus 5 curls on 2 cores); the figure itself is printed. */
const PATH_DOWN_BOUND_MS = 6000

const avail = await labClusterAvailable()
if (!avail.ok) console.log(`# SKIP network lab: ${avail.reason}`)
const skip = avail.ok ? false : `network lab: ${avail.reason}`

/** Every (observer, member) pair currently shown `failed`, as "observer→member(cause)". */
function failedPairs (views: Views, targets?: LabAgent[]): string[] {
  const out: string[] = []
  const ids = targets?.map(t => t.peerId)
  for (const [observer, list] of views) {
    for (const m of list ?? []) {
      if (m.status === 'failed' && (ids == null || ids.includes(m.peerId))) out.push(`${observer}→${m.name}(${m.cause ?? '?'})`)
    }
  }
  return out
}

/** member:failed events seen since `since` (optionally only about `targets`). */
function failedEvents (c: LabCluster, since: number, targets?: LabAgent[]): string[] {
  const ids = targets?.map(t => t.peerId)
  return c.events
    .filter(e => e.t >= since && e.type === 'member:failed' && (ids == null || ids.includes(e.member.peerId)))
    .map(e => `${e.observer}→${e.member.name}(${e.member.cause ?? '?'}) at +${Math.round(e.t - since)} ms`)
}

/** True when every observer shows `target` alive with its path on `host` down and another path up (degraded). */
function pathDownEverywhere (views: Views, observers: LabAgent[], target: LabAgent, host: string): boolean {
  return observers.every(o => {
    const m = statusIn(views, o, target)
    const cut = m?.paths?.find(p => p.addr.includes(`/${host}/`))
    return m?.status === 'alive' && cut?.state === 'down' && m.degraded === true
  })
}

/** Runs `agent members --json` in `observer`'s namespace and checks it agrees with `expect` for each target. */
async function cliAgrees (c: LabCluster, observer: LabAgent, targets: LabAgent[], status: string): Promise<void> {
  const list = await c.cliMembers(observer)
  for (const t of targets) {
    const m = list.find(x => x.peerId === t.peerId)
    assert.equal(m?.status, status, `\`agent members --json\` on ${observer.name} shows ${t.name} ${m?.status ?? 'missing'}, expected ${status}\n${JSON.stringify(list.map(x => ({ name: x.name, status: x.status, cause: x.cause })))}`)
  }
}

/** Each observer's paths to `target`, one line each, for failure messages. */
function formatPaths (c: LabCluster, views: Views, target: LabAgent): string {
  return c.agents.filter(o => o !== target).map(o => {
    const m = statusIn(views, o, target)
    return `  ${o.name}: ${m == null ? 'missing' : `${m.status}${m.degraded ? ' degraded' : ''} ${m.paths.map(p => `${p.addr}=${p.state}${p.lastError != null ? `(${p.lastError})` : ''}`).join(' ')}`}`
  }).join('\n')
}

describe('agents in the network lab (5 agents, lan profile)', { skip, timeout: 240_000 }, () => {
  describe('1. network A cut for node3 (B still works)', () => {
    let c: LabCluster
    before(async () => { c = await startLabCluster(N) })
    after(async () => { await c?.destroy() })

    it('no agent ever shows a member failed for 15 s; everyone shows node3 alive with its network-A path down', async () => {
      const node3 = c.byName('node3')
      const others = c.agents.filter(a => a !== node3)
      const since = performance.now()
      await c.lab.cutNetwork(node3.node, 'A')
      const tCut = performance.now()
      const seenFailed = new Set<string>()
      const seenSuspect = new Set<string>()
      let firstFailure: Views | undefined
      let pathDownMs: number | undefined
      const rounds = await c.observe(15_000, views => {
        for (const p of failedPairs(views)) seenFailed.add(p)
        for (const [o, list] of views) for (const m of list ?? []) if (m.status === 'suspect') seenSuspect.add(`${o}→${m.name}`)
        if (firstFailure == null && failedPairs(views).length > 0) firstFailure = views
        // taken after the round's curls returned: the state held no later than that
        if (pathDownMs == null && pathDownEverywhere(views, others, node3, node3.node.addrA)) pathDownMs = performance.now() - tCut
      })
      const events = failedEvents(c, since)
      console.log(`# scenario 1: ${rounds} polling rounds; suspect seen: ${[...seenSuspect].join(', ') || 'never'}`)
      console.log(`# scenario 1: node3 alive with path A down (degraded) on every other agent ${pathDownMs == null ? 'NEVER within 15 s' : `${Math.round(pathDownMs)} ms after the cut (${(pathDownMs / PROBE_INTERVAL_MS).toFixed(1)} probe periods)`}`)
      assert.deepEqual({ polled: [...seenFailed], events }, { polled: [], events: [] },
        `a member was shown failed while only network A of node3 was cut\n${firstFailure != null ? `first view with a failure:\n${formatViews(firstFailure)}\n` : ''}${c.diagnose()}`)
      // "At the end": suspect for a moment is tolerated, so allow a few rounds to settle.
      await c.waitUntil('every agent shows node3 alive (A still cut)', views => allSee(views, c.agents, [node3], 'alive'), 5000)
      await cliAgrees(c, c.byName('node1'), c.agents, 'alive')

      // Paths: node3's address on network A down, on B up, everywhere; a member:degraded event from each.
      assert.ok(pathDownMs != null && pathDownMs <= PATH_DOWN_BOUND_MS,
        `node3's network-A path was not shown down (with node3 alive and degraded) by every other agent within ${PATH_DOWN_BOUND_MS} ms: ${pathDownMs == null ? 'never' : `${Math.round(pathDownMs)} ms`}\n${formatPaths(c, await c.poll(), node3)}`)
      // A probe lost while a switchPath on one side tears down the connection the
      // other side was using shows a working path down until that observer's
      // next probe of node3 (round robin: within a few probe periods), as a
      // user would see it settle; so the end state gets a few rounds too.
      const bUp = (views: Views): boolean => others.every(o => statusIn(views, o, node3)?.paths.find(p => p.addr.includes(`/${node3.node.addrB}/`))?.state === 'up')
      let final = await c.poll()
      try {
        await c.waitUntil('every other agent shows node3\'s path A down and B up', views => { final = views; return pathDownEverywhere(views, others, node3, node3.node.addrA) && bUp(views) }, 6 * PROBE_INTERVAL_MS)
      } catch {}
      assert.ok(pathDownEverywhere(final, others, node3, node3.node.addrA), `at the end of the cut, node3's path A is not down everywhere\n${formatPaths(c, final, node3)}\n${c.diagnose(final)}`)
      for (const o of others) {
        const b = statusIn(final, o, node3)?.paths.find(p => p.addr.includes(`/${node3.node.addrB}/`))
        assert.equal(b?.state, 'up', `${o.name} shows node3's network-B path ${b?.state ?? 'missing'}`)
      }
      const degradedBy = new Set(c.events.filter(e => e.t >= since && e.type === 'member:degraded' && e.member.peerId === node3.peerId).map(e => e.observer))
      const about3 = c.events.filter(e => e.t >= since && e.member.peerId === node3.peerId)
        .map(e => `  +${Math.round(e.t - tCut)} ms ${e.observer}: ${e.type} ${e.member.status}${e.member.degraded ? ' degraded' : ''} ${(e.member.paths ?? []).map(p => p.state).join('/')}`)
      assert.deepEqual([...degradedBy].sort(), others.map(o => o.name).sort(), `every other agent emits member:degraded for node3; events about node3:\n${about3.join('\n')}`)
      const cli = (await c.cliMembers(c.byName('node1'))).find(m => m.peerId === node3.peerId)
      assert.equal(cli?.paths.find(p => p.addr.includes(`/${node3.node.addrA}/`))?.state, 'down', '`agent members --json` shows the cut path down')
      assert.equal(cli?.degraded, true)
    })
  })

  describe('2. partition {1,2} | {3,4,5} on both networks, then heal', () => {
    let c: LabCluster
    before(async () => { c = await startLabCluster(N) })
    after(async () => { await c?.destroy() })

    it('each side shows the other failed within 30 s; after heal all five see all five alive within 20 s', async () => {
      const minority = [c.byName('node1'), c.byName('node2')]
      const majority = [c.byName('node3'), c.byName('node4'), c.byName('node5')]
      const t0 = performance.now()
      await c.lab.partition([minority.map(a => a.node), majority.map(a => a.node)])
      const split = await c.waitUntil('3–5 show 1,2 failed and 1–2 show 3–5 failed',
        views => allSee(views, majority, minority, 'failed') && allSee(views, minority, majority, 'failed'), 30_000)
      console.log(`# scenario 2: both sides show the other failed after ${Math.round(split.ms)} ms`)
      const causes = failedPairs(split.views)
      console.log(`# scenario 2: causes: ${causes.join(' ')}`)
      const sides = new Map<string, string>()
      for (const a of c.agents) {
        const h = await c.health(a)
        const side = h.status === 200 ? String(h.body?.side) : `(GET /v1/health → ${h.status})`
        sides.set(a.name, side)
        if (h.status === 200) console.log(`# scenario 2: ${a.name} GET /v1/health: ${JSON.stringify(h.body).slice(0, 300)}`)
      }
      console.log(`# scenario 2: health side: ${[...sides].map(([n, s]) => `${n}=${s}`).join(' ')}`)
      await cliAgrees(c, majority[0], minority, 'failed')

      {
        const verdicts = await c.waitUntil('cause partition on both sides',
          views => allSee(views, majority, minority, 'failed', m => m.cause === 'partition') &&
            allSee(views, minority, majority, 'failed', m => m.cause === 'partition'), 10_000).catch((err: Error) => err)
        assert.ok(!(verdicts instanceof Error), `cause is not 'partition' everywhere: ${verdicts instanceof Error ? verdicts.message : ''}`)
        // The side may take a moment to settle after the verdicts: allow 10 s (one curl per node per 250 ms).
        const wantSide = (a: LabAgent): string => minority.includes(a) ? 'minority' : 'majority'
        let healths = new Map<string, { status: number, body: any }>()
        const deadline = performance.now() + 10_000
        for (let round = 0; round < 60; round++) {
          const start = performance.now()
          healths = new Map(await Promise.all(c.agents.map(async a => [a.name, await c.health(a)] as const)))
          if (c.agents.every(a => healths.get(a.name)?.status === 200 && healths.get(a.name)?.body?.side === wantSide(a))) break
          if (performance.now() > deadline) break
          await new Promise(resolve => setTimeout(resolve, Math.max(0, 250 - (performance.now() - start))))
        }
        for (const a of c.agents) {
          const h = healths.get(a.name)!
          assert.equal(h.status, 200, `GET /v1/health on ${a.name} answered ${h.status}: ${JSON.stringify(h.body)}`)
          assert.equal(h.body?.side, wantSide(a), `${a.name} reports side ${JSON.stringify(h.body?.side)}, expected ${wantSide(a)} (10 s after the verdicts): ${JSON.stringify(h.body)}\n${c.diagnose()}`)
        }
      }

      const tHeal = performance.now()
      await c.lab.heal()
      const healed = await c.waitUntil('all five see all five alive after heal (no restarts, no joins)',
        views => allSee(views, c.agents, c.agents, 'alive'), 20_000)
      console.log(`# scenario 2: heal → all alive everywhere after ${Math.round(healed.ms)} ms (partition lasted ${Math.round(tHeal - t0)} ms)`)
      for (const a of c.agents) assert.equal(a.child.exitCode, null, `${a.name} is still the original process`)
      await cliAgrees(c, minority[0], c.agents, 'alive')
    })
  })

  describe('3a. kill -9 of node5', () => {
    let c: LabCluster
    before(async () => { c = await startLabCluster(N) })
    after(async () => { await c?.destroy() })

    it('every other agent shows node5 failed with cause crash within 20 s', async () => {
      const victim = c.byName('node5')
      const others = c.agents.filter(a => a !== victim)
      await c.lab.crash(victim.child)
      const r = await c.waitUntil('1–4 show node5 failed (crash)',
        views => allSee(views, others, [victim], 'failed', m => m.cause === 'crash'), 20_000, others)
      console.log(`# scenario 3a: kill -9 → failed (crash) everywhere after ${Math.round(r.ms)} ms`)
      const list = await c.cliMembers(others[0])
      const m = list.find(x => x.peerId === victim.peerId)
      assert.equal(m?.status, 'failed')
      assert.equal(m?.cause, 'crash')
    })
  })

  describe('3b. cable pulled on node4 (both networks)', () => {
    let c: LabCluster
    before(async () => { c = await startLabCluster(N) })
    after(async () => { await c?.destroy() })

    it('every other agent shows node4 failed within 40 s, never with cause crash, and emits member:unreachable', async () => {
      const victim = c.byName('node4')
      const others = c.agents.filter(a => a !== victim)
      const since = performance.now()
      await c.lab.pullPlug(victim.node)
      const crashCauses = new Set<string>()
      const r = await c.waitUntil('1,2,3,5 show node4 failed', views => {
        for (const o of others) {
          const m = statusIn(views, o, victim)
          if (m?.cause === 'crash') crashCauses.add(`${o.name}: ${m.status}(crash)`)
        }
        return allSee(views, others, [victim], 'failed')
      }, 40_000, others)
      console.log(`# scenario 3b: pulled plug → failed everywhere after ${Math.round(r.ms)} ms; causes: ${failedPairs(r.views, [victim]).join(' ')}`)
      const list = await c.cliMembers(others[0])
      const m = list.find(x => x.peerId === victim.peerId)
      assert.equal(m?.status, 'failed')
      for (const e of c.events) {
        if (e.t >= since && e.member.peerId === victim.peerId && e.member.cause === 'crash') crashCauses.add(`${e.observer}: event ${e.type} (crash)`)
      }
      if (m?.cause === 'crash') crashCauses.add(`${others[0].name}: CLI shows cause crash`)
      assert.deepEqual([...crashCauses], [], `a pulled cable was reported as a crash\n${c.diagnose(r.views)}`)
      assert.notEqual(m?.cause, 'crash')
      // silence is first judged `unreachable` (the suspicion), which each observer announces
      const unreachableBy = new Set(c.events.filter(e => e.t >= since && e.type === 'member:unreachable' && e.member.peerId === victim.peerId).map(e => e.observer))
      assert.deepEqual([...unreachableBy].sort(), others.map(o => o.name).sort(), 'every other agent emits member:unreachable for node4')

      // Informational: does it come back once the cable is plugged in again?
      await c.lab.plugIn(victim.node)
      const back = await c.waitUntil('everyone alive after plugIn', views => allSee(views, c.agents, c.agents, 'alive'), 30_000)
        .catch((err: Error) => err)
      console.log(`# scenario 3b: plug in → ${back instanceof Error ? `NOT all alive within 30 s:\n${back.message.split('\n').slice(0, 8).join('\n')}` : `all alive after ${Math.round(back.ms)} ms`}`)
    })
  })

  describe('4. one-way cut: node1 can send to node2 but receives nothing from it', () => {
    let c: LabCluster
    before(async () => { c = await startLabCluster(N) })
    after(async () => { await c?.destroy() })

    it('for 20 s no agent shows node1 or node2 failed', async () => {
      const n1 = c.byName('node1')
      const n2 = c.byName('node2')
      const since = performance.now()
      await c.lab.cutOneWay(n1.node, n2.node)
      const seen = new Set<string>()
      const other = new Set<string>()
      let firstFailure: Views | undefined
      const rounds = await c.observe(20_000, views => {
        for (const p of failedPairs(views, [n1, n2])) seen.add(p)
        for (const p of failedPairs(views)) other.add(p)
        if (firstFailure == null && failedPairs(views, [n1, n2]).length > 0) firstFailure = views
      })
      const events = failedEvents(c, since, [n1, n2])
      console.log(`# scenario 4: ${rounds} polling rounds; any failed seen (all members): ${[...other].join(' ') || 'none'}`)
      await cliAgrees(c, c.byName('node3'), [n1, n2], 'alive').catch((err: Error) => { seen.add(`CLI: ${err.message.split('\n')[0]}`) })
      assert.deepEqual({ polled: [...seen], events }, { polled: [], events: [] },
        `node1 or node2 was shown failed under a one-way cut\n${firstFailure != null ? `first view with a failure:\n${formatViews(firstFailure)}\n` : ''}${c.diagnose()}`)
    })
  })
})
