/**
 * The member index of the core (membership/state.ts `MemberIndex`: deadlines in
 * heaps, failed/left sets, names, counts, kept as members change) against the
 * implementation that walked every member for them on each input
 * (test/unit/membership-flat-reference/, a frozen copy of core.ts, state.ts,
 * merge.ts (then apply.ts), probe.ts, suspicion.ts and awareness.ts, loaded into a second module
 * graph through a module hook). Both cores of each member get the same inputs in
 * lockstep through randomized runs with joins, loss, crashes, refusals, leaves,
 * restarts, stalls, partitions that heal and reaps; after every input they must
 * return exactly the same effects in the same order, the same health, stats and
 * next deadline.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { registerHooks } from 'node:module'
import { createMembership, fromPartial, seededRandom } from '../../membership/index.ts'
import type { Effect, MemberId, Membership, MembershipConfig, MembershipOptions, Message } from '../../membership/index.ts'

const MEMBERSHIP = new URL('../../membership/', import.meta.url).href
const REFERENCE = new URL('./membership-flat-reference/', import.meta.url).href
/** Live file → its frozen copy (merge.ts was apply.ts when the copy was taken). */
const FROZEN = new Map([['core.ts', 'core.ts'], ['state.ts', 'state.ts'], ['merge.ts', 'apply.ts'], ['probe.ts', 'probe.ts'], ['suspicion.ts', 'suspicion.ts'], ['awareness.ts', 'awareness.ts']])

// Modules imported with `?flatref` (and everything they import) form a second module
// graph, in which the frozen files are the reference copies.
registerHooks({
  resolve (specifier, context, next) {
    const resolved = next(specifier, context)
    if (context.parentURL?.endsWith('?flatref') !== true || !resolved.url.startsWith('file:')) return resolved
    let url = resolved.url.split('?')[0]
    const frozen = url.startsWith(MEMBERSHIP) ? FROZEN.get(url.slice(MEMBERSHIP.length)) : undefined
    if (frozen != null) url = REFERENCE + frozen
    return { ...resolved, url: `${url}?flatref` }
  }
})
const reference = await import(new URL('./membership-flat-reference/core.ts?flatref', import.meta.url).href) as { createMembership: typeof createMembership }

interface Twin { core: Membership, ref: Membership }

interface Pending { at: number, n: number, from: MemberId, to: MemberId, msg: Message }

function run (seed: number, size: number, simMs: number, config: Partial<MembershipConfig>): { inputs: number, partitionEvents: number, relabels: number, reaps: number, stalls: number } {
  const r = seededRandom(seed)
  // Holding suspicions for slow refutations, patient probes, first-ack patience and bounds on answering syncs came after the frozen copy.
  const cfg = fromPartial({ ...config, suspicionRefutationMult: 0, probePatienceMult: 0, firstAckPatienceMs: 0, syncAnswerGapMs: 0, syncAnswerMembersPerSecond: 0 }, 'lan')
  const twins = new Map<MemberId, Twin>()
  const silent = new Set<MemberId>()
  const refusing = new Set<MemberId>()
  let side: Set<MemberId> | undefined
  let loss = 0.01
  let now = 0
  let n = 0
  let inputs = 0
  let partitionEvents = 0
  let relabels = 0
  let reaps = 0
  let stalls = 0
  /** Members whose process is stopped (SIGSTOP) until the time given: neither ticked nor handed messages. */
  const stopped = new Map<MemberId, number>()
  let queue: Pending[] = []
  const ids = Array.from({ length: size }, (_, i) => `m${String(i).padStart(2, '0')}`)

  const make = (id: MemberId, boot: number): void => {
    const opts = (): MembershipOptions => ({
      self: { id, name: id, addrs: [`/memory/${id}`], tags: {}, incarnation: 0, bootId: `${id}-${boot}` },
      config: cfg,
      random: seededRandom(seed * 1000 + boot * 100 + ids.indexOf(id)),
      now
    })
    twins.set(id, { core: createMembership(opts()), ref: reference.createMembership(opts()) })
  }

  const input = (id: MemberId, what: string, fn: (m: Membership) => Effect[]): void => {
    const twin = twins.get(id)!
    const got = fn(twin.core)
    const want = fn(twin.ref)
    inputs++
    const where = `seed ${seed}, ${id} ${what} at ${now}`
    // Join progress reports came after the frozen copy; the index does not touch them.
    assert.deepEqual(got.filter(e => e.kind !== 'join'), want, where)
    assert.deepEqual(twin.core.health(), twin.ref.health(), `health, ${where}`)
    const { suspicionsHeld, syncsDeferred, syncsDeclined, ...stats } = twin.core.stats()
    assert.equal(suspicionsHeld, 0, `suspicions held, ${where}`)
    assert.equal(syncsDeferred + syncsDeclined, 0, `syncs deferred or declined, ${where}`)
    assert.deepEqual(stats, twin.ref.stats(), `stats, ${where}`)
    assert.equal(twin.core.nextDeadline(), twin.ref.nextDeadline(), `nextDeadline, ${where}`)
    for (const e of got) {
      if (e.kind === 'event' && e.event.type === 'member:reap') reaps++
      if (e.kind === 'cluster') partitionEvents++
      if (e.kind === 'event' && e.event.type === 'member:update' && e.event.member.cause === 'partition') relabels++
      if (e.kind !== 'send') continue
      const to = e.to.id ?? e.to.addrs[0]?.replace('/memory/', '')
      if (to == null || !twins.has(to) || silent.has(id)) continue
      if (r() < loss || (side != null && side.has(id) !== side.has(to))) continue
      if (refusing.has(to)) {
        input(id, 'refused', m => m.deliveryFailed(now, e.to, e.msg, 'refused'))
        continue
      }
      queue.push({ at: now + 1 + Math.floor(r() * 20), n: n++, from: id, to, msg: e.msg })
    }
  }

  // Start: everyone joins the first member over the first 10 s.
  make(ids[0], 0)
  const joins = ids.slice(1).map(id => ({ at: Math.floor(r() * 10_000), id }))
  let nextAction = 30_000
  while (now < simMs) {
    // The next thing to happen: a join, a scenario action, a delivery, or a core's deadline.
    let t = nextAction
    for (const j of joins) t = Math.min(t, j.at)
    for (const p of queue) t = Math.min(t, stopped.get(p.to) ?? p.at)
    for (const until of stopped.values()) t = Math.min(t, until)
    let due: MemberId | undefined
    for (const [id, twin] of twins) {
      if (silent.has(id) || refusing.has(id) || stopped.has(id)) continue
      const d = twin.core.nextDeadline()
      if (d < t) { t = d; due = id }
    }
    now = Math.max(now, t)
    for (const [id, until] of stopped) if (until <= now) stopped.delete(id)
    if (due != null) {
      input(due, 'tick', m => m.tick(now))
      continue
    }
    const j = joins.findIndex(x => x.at <= now)
    if (j >= 0) {
      const [{ id }] = joins.splice(j, 1)
      make(id, 0)
      input(id, 'join', m => m.join(now, [{ id: ids[0], addrs: [`/memory/${ids[0]}`] }]))
      continue
    }
    const ready = queue.filter(p => p.at <= now && !stopped.has(p.to)).sort((a, b) => a.at - b.at || a.n - b.n)
    if (ready.length > 0) {
      const p = ready[0]
      queue = queue.filter(x => x !== p)
      if (!silent.has(p.to) && twins.has(p.to)) input(p.to, `receive ${p.msg.type} from ${p.from}`, m => m.receive(now, p.from, structuredClone(p.msg)))
      continue
    }
    // A scenario action.
    nextAction = now + 5_000 + Math.floor(r() * 25_000)
    const live = ids.filter(id => twins.has(id) && !silent.has(id) && !refusing.has(id))
    const pick = (): MemberId => live[Math.floor(r() * live.length)]
    const x = r()
    if (side == null && x < 0.2 && live.length > 4) {
      // A partition: a random 20-50 % of the members on one side, healed later by another action.
      const k = Math.max(1, Math.floor(live.length * (0.2 + 0.3 * r())))
      side = new Set([...live].sort(() => r() - 0.5).slice(0, k))
    } else if (side != null && x < 0.45) {
      side = undefined
    } else if (x < 0.55 && live.length > 3) {
      silent.add(pick())
    } else if (x < 0.62 && live.length > 3) {
      refusing.add(pick())
    } else if (x < 0.68 && live.length > 3) {
      const id = pick()
      input(id, 'leave', m => m.leave(now))
    } else if (x < 0.8) {
      // A crashed or refusing member restarts with a new boot id and joins again.
      const down = ids.filter(id => silent.has(id) || refusing.has(id))
      if (down.length > 0) {
        const id = down[Math.floor(r() * down.length)]
        silent.delete(id)
        refusing.delete(id)
        make(id, Math.floor(r() * 1e6))
        input(id, 'rejoin', m => m.join(now, [{ id: ids[0], addrs: [`/memory/${ids[0]}`] }]))
      }
    } else if (x < 0.85) {
      loss = [0, 0.01, 0.05, 0.2][Math.floor(r() * 4)]
    } else if (x < 0.9) {
      // A stall: 2 to 12 probe intervals without running.
      stalls++
      stopped.set(pick(), now + 2000 + Math.floor(r() * 10_000))
    } else {
      const id = pick()
      input(id, 'update', m => m.update(now, { tags: { v: String(now) } }))
    }
  }
  for (const [id, twin] of twins) assert.deepEqual(twin.core.members(), twin.ref.members(), `members of ${id}`)
  return { inputs, partitionEvents, relabels, reaps, stalls }
}

describe('membership index: kept incrementally vs walked on every input', () => {
  const fast: Partial<MembershipConfig> = { stableAfterMs: 3000, partitionForgetMs: 60_000, partitionWindowMs: 40_000, reapFailedAfterMs: 60_000, reapLeftAfterMs: 40_000 }
  const runs: Array<[seed: number, size: number, simMs: number, config: Partial<MembershipConfig>]> = [
    [1, 12, 600_000, fast],
    [2, 24, 300_000, fast],
    [3, 8, 600_000, { ...fast, partitionGroupMin: 3 }],
    [4, 16, 400_000, {}],
    [5, 30, 150_000, { ...fast, probeNeighbors: 2, longLinks: 1 }],
    [6, 16, 400_000, { ...fast, probeNeighbors: 0 }],
    // More runs: MEMBERSHIP_TWIN_RUNS=50 npx node --test test/unit/membership-flat-lockstep.test.ts
    ...Array.from({ length: Number(process.env.MEMBERSHIP_TWIN_RUNS ?? 0) }, (_, i): [number, number, number, Partial<MembershipConfig>] => [
      100 + i, 6 + (i * 7) % 30, 300_000, { ...fast, probeNeighbors: [4, 2, 0][i % 3], reapFailedAfterMs: [20_000, 60_000, 200_000][i % 3] }
    ])
  ]
  for (const [seed, size, simMs, config] of runs) {
    it(`gives the same effects, health, stats and deadlines (seed ${seed}, ${size} members, ${simMs / 1000} s)`, () => {
      const { inputs, partitionEvents, relabels, reaps, stalls } = run(seed, size, simMs, config)
      assert.ok(inputs > 1000, `${inputs} inputs`)
      console.log(`seed ${seed}: ${inputs} inputs, ${partitionEvents} cluster events, ${relabels} re-labels, ${reaps} reaps, ${stalls} stalls`)
    })
  }
})
