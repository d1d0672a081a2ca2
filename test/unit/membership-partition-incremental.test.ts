/**
 * The partition verdicts kept incrementally (membership/partition.ts) against
 * the implementation that rebuilt every set from all members at each evaluation
 * (membership-partition-reference.ts, loaded into a second copy of the core
 * through a module hook). Both cores of each member get the same inputs in
 * lockstep through randomized runs with joins, loss, crashes, refusals, leaves,
 * restarts and partitions that heal; after every input they must return the
 * same messages, the same member events (in the same order per member; the
 * relative order of different members' re-labels may differ), the same
 * cluster events, health and next deadline.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { registerHooks } from 'node:module'
import { createMembership, fromPartial, seededRandom } from '../../membership/index.ts'
import type { Effect, MemberId, Membership, MembershipConfig, MembershipOptions, Message } from '../../membership/index.ts'

const PARTITION = new URL('../../membership/partition.ts', import.meta.url).href
const REFERENCE = new URL('./membership-partition-reference.ts', import.meta.url).href

// Modules imported with `?ref` (and everything they import) form a second module
// graph, in which partition.ts is the reference.
registerHooks({
  resolve (specifier, context, next) {
    const resolved = next(specifier, context)
    if (context.parentURL?.endsWith('?ref') !== true || !resolved.url.startsWith('file:')) return resolved
    const url = resolved.url.split('?')[0] === PARTITION ? REFERENCE : resolved.url.split('?')[0]
    return { ...resolved, url: `${url}?ref` }
  }
})
const reference = await import(new URL('../../membership/core.ts?ref', import.meta.url).href) as { createMembership: typeof createMembership }

interface Twin { core: Membership, ref: Membership }

/** Events grouped by member, in order; cluster events and everything else in order. */
function normalize (effects: Effect[]): unknown {
  const byMember = new Map<MemberId, unknown[]>()
  const rest: unknown[] = []
  for (const e of effects) {
    if (e.kind === 'event') {
      const list = byMember.get(e.event.member.id) ?? []
      list.push(e.event)
      byMember.set(e.event.member.id, list)
    } else rest.push(e)
  }
  return { rest, events: [...byMember.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0) }
}

interface Pending { at: number, n: number, from: MemberId, to: MemberId, msg: Message }

function run (seed: number, size: number, simMs: number, config: Partial<MembershipConfig>): { inputs: number, partitionEvents: number, relabels: number } {
  const r = seededRandom(seed)
  const cfg = fromPartial(config, 'lan')
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
    assert.deepEqual(normalize(got), normalize(want), where)
    assert.deepEqual(twin.core.health(), twin.ref.health(), `health, ${where}`)
    assert.equal(twin.core.nextDeadline(), twin.ref.nextDeadline(), `nextDeadline, ${where}`)
    for (const e of got) {
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
    for (const p of queue) t = Math.min(t, p.at)
    let due: MemberId | undefined
    for (const [id, twin] of twins) {
      if (silent.has(id) || refusing.has(id)) continue
      const d = twin.core.nextDeadline()
      if (d < t) { t = d; due = id }
    }
    now = Math.max(now, t)
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
    const ready = queue.filter(p => p.at <= now).sort((a, b) => a.at - b.at || a.n - b.n)
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
    } else if (x < 0.9) {
      loss = [0, 0.01, 0.05, 0.2][Math.floor(r() * 4)]
    } else {
      const id = pick()
      input(id, 'update', m => m.update(now, { tags: { v: String(now) } }))
    }
  }
  for (const [id, twin] of twins) assert.deepEqual(twin.core.members(), twin.ref.members(), `members of ${id}`)
  return { inputs, partitionEvents, relabels }
}

describe('membership partition: incremental vs rebuilt each evaluation', () => {
  const fast: Partial<MembershipConfig> = { stableAfterMs: 3000, partitionForgetMs: 60_000, partitionWindowMs: 40_000, reapFailedAfterMs: 150_000, reapLeftAfterMs: 100_000 }
  const runs: Array<[seed: number, size: number, simMs: number, config: Partial<MembershipConfig>]> = [
    [1, 12, 600_000, fast],
    [2, 20, 600_000, fast],
    [9, 8, 900_000, { ...fast, partitionGroupMin: 3 }],
    [4, 16, 600_000, {}],
    [5, 25, 400_000, { ...fast, partitionForgetMs: 20_000, partitionWindowMs: 30_000 }],
    // More runs: MEMBERSHIP_TWIN_RUNS=50 npx node --test test/unit/membership-partition-incremental.test.ts
    ...Array.from({ length: Number(process.env.MEMBERSHIP_TWIN_RUNS ?? 0) }, (_, i): [number, number, number, Partial<MembershipConfig>] => [
      100 + i, 6 + (i * 7) % 20, 300_000, { ...fast, partitionGroupMin: 1 + i % 3, partitionForgetMs: [20_000, 60_000, 200_000][i % 3] }
    ])
  ]
  for (const [seed, size, simMs, config] of runs) {
    it(`gives the same effects, health and deadlines (seed ${seed}, ${size} members, ${simMs / 1000} s)`, () => {
      const { inputs, partitionEvents, relabels } = run(seed, size, simMs, config)
      assert.ok(inputs > 1000, `${inputs} inputs`)
      if (seed < 100) assert.ok(partitionEvents > 0, 'some partition episodes')
      console.log(`seed ${seed}: ${inputs} inputs, ${partitionEvents} cluster events, ${relabels} re-labels`)
    })
  }
})
