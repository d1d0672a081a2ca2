/**
 * Probe turns (membership/probe-turns.ts): with a shared clock, the members
 * that probe one member take turns, one per probe interval, so a frozen member
 * is probed, and suspected, within a bounded time of the freeze; with clocks
 * apart, every member is still probed by each of its probers once per round.
 *
 * Replay a failure with the seed it prints: `SIM_SEED=<seed> npm run test:sim`.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SimCluster, type SimClusterOptions } from '../../testkit/sim/cluster.ts'
import { LAN } from '../../membership/config.ts'
import type { MemberId } from '../../membership/types.ts'
import { seeded } from './seed.ts'

const N = 20
const SETTLE_MS = 30_000
const { simulate } = seeded(0x7075)

function settled (seed: number, opts: Partial<SimClusterOptions> = {}): SimCluster {
  const cluster = new SimCluster({ seed, size: N, profile: 'lan', lossRate: 0, latencyMs: { min: 1, max: 3 }, ...opts })
  cluster.start()
  assert.ok(cluster.runUntil(() => cluster.upIds().length === N && cluster.converged(), 60_000) != null, 'cluster did not converge')
  cluster.runFor(SETTLE_MS)
  return cluster
}

/** Who pinged `target` over `ms`, at what times (all probes direct: no loss, no indirect ones). */
function pingsOf (cluster: SimCluster, target: MemberId, ms: number): Array<{ from: MemberId, at: number }> {
  const seen: Array<{ from: MemberId, at: number }> = []
  let on = true
  cluster.onEffects((node, effects) => {
    if (!on) return
    for (const e of effects) {
      if (e.kind === 'send' && e.msg.type === 'ping' && e.msg.target === target) seen.push({ from: node.id, at: cluster.now })
    }
  })
  cluster.runFor(ms)
  on = false
  return seen
}

/** The member was pinged by probeNeighbors members, each once per round of probeNeighbors intervals (one more or less at the window's ends). */
function assertEachProberOncePerRound (pings: Array<{ from: MemberId }>, rounds: number): void {
  const perProber = new Map<MemberId, number>()
  for (const p of pings) perProber.set(p.from, (perProber.get(p.from) ?? 0) + 1)
  assert.equal(perProber.size, LAN.probeNeighbors, `probed by ${perProber.size} members`)
  for (const [from, count] of perProber) assert.ok(Math.abs(count - rounds) <= 1, `${from} probed it ${count} times in ${rounds} rounds`)
}

describe('probe turns', () => {
  it('a member is probed once per interval, by each of its probers in turn', simulate(0, seed => {
    const cluster = settled(seed)
    const target = cluster.upIds()[3]
    const rounds = 10
    const pings = pingsOf(cluster, target, rounds * LAN.probeNeighbors * LAN.probeIntervalMs)
    assertEachProberOncePerRound(pings, rounds)
    // One interval apart: the turns do not pile up.
    const gaps = pings.slice(1).map((p, i) => p.at - pings[i].at)
    assert.ok(gaps.every(g => Math.abs(g - LAN.probeIntervalMs) <= 5), `gaps between probes: ${gaps.join(', ')}`)
  }))

  it('a frozen member is suspected within two probe intervals of the freeze', simulate(1, seed => {
    const cluster = settled(seed)
    const late: string[] = []
    for (let i = 0; i < 8; i++) {
      // At a different moment of the probe interval each time.
      cluster.runFor(LAN.probeIntervalMs * 3 + Math.floor(cluster.random() * LAN.probeIntervalMs))
      const victim = cluster.upIds()[1 + i]
      const frozenAt = cluster.now
      cluster.freeze(victim)
      const suspected = cluster.runUntil(() => cluster.upIds().some(id => id !== victim && cluster.view(id, victim)?.status !== 'alive'), 10_000, 10)
      assert.ok(suspected != null, `${victim} never suspected`)
      // one interval for its turn to come, one for the probe (direct, then indirect)
      if (cluster.now - frozenAt > 2 * LAN.probeIntervalMs + 20) late.push(`${victim}: ${cluster.now - frozenAt} ms`)
      cluster.resume(victim)
      assert.ok(cluster.runUntil(() => cluster.converged(), 30_000) != null, `${victim} not back alive everywhere`)
    }
    assert.deepEqual(late, [])
  }))

  it('with clocks minutes apart, each prober still probes each successor once per round', simulate(2, seed => {
    const cluster = settled(seed, { clockSkewMs: (_id, i) => i * 61_237 })
    const target = cluster.upIds()[5]
    const rounds = 10
    assertEachProberOncePerRound(pingsOf(cluster, target, rounds * LAN.probeNeighbors * LAN.probeIntervalMs), rounds)
  }))
})
