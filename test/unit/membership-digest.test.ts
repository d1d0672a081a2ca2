/**
 * The push-pull digest the core keeps as members change (membership/digest.ts
 * `resum`, through the member index) against the digest computed from scratch
 * over the view (`viewDigest`). After every input of every core, through a
 * simulated run with joins, loss, tag changes, suspicions refuted and not,
 * slow members suspected again and again, crashes, restarts (new boots),
 * leaves, a partition that heals and reaps,
 * the two must be equal; and views that agree must have equal digests.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { viewDigest } from '../../membership/index.ts'
import type { Member, Membership } from '../../membership/index.ts'
import { SimCluster } from '../../testkit/sim/cluster.ts'
import { exponential } from '../../testkit/sim/latency.ts'
import { Wire } from './membership-harness.ts'

const SIZE = 24

function fromScratch (core: Membership): ReturnType<typeof viewDigest> {
  const self = core.self
  const others = core.members().filter(m => m.id !== self.id).map((member: Member) => ({ member }))
  return viewDigest(self, others)
}

describe('membership: the digest kept as members change', () => {
  it('equals the digest computed from the view after every input', () => {
    // Reaps within the run, so that records leave the sums too.
    const cluster = new SimCluster({
      seed: 0xd16e57,
      size: SIZE,
      profile: 'lan',
      lossRate: 0.02,
      config: { reapFailedAfterMs: 20_000, reapLeftAfterMs: 20_000 }
    })
    let checked = 0
    cluster.onEffects(node => {
      assert.deepEqual(node.core.viewDigest(), fromScratch(node.core), `${node.id} at ${cluster.now} ms`)
      checked++
    })
    cluster.start()
    assert.ok(cluster.runUntil(() => cluster.upIds().length === SIZE && cluster.converged(), 60_000) != null, 'no convergence')
    const ids = cluster.ids
    // Slow members are suspected, refute, and are suspected again (often before
    // the refutation arrived): incarnations change while a member stays suspect.
    for (const id of ids.slice(9, 13)) cluster.slow(id, exponential(700))
    cluster.update(ids[3], { tags: { role: 'db' } })
    cluster.crash(ids[5], { refuse: false })
    cluster.crash(ids[6], { refuse: true })
    cluster.runFor(5_000)
    cluster.leave(ids[7])
    cluster.freeze(ids[8])
    cluster.runFor(3_000)
    cluster.resume(ids[8])
    cluster.runFor(30_000)
    cluster.restart(ids[5])
    cluster.net.partition(ids.slice(0, 14), ids.slice(14))
    cluster.runFor(40_000)
    cluster.net.heal()
    cluster.runFor(60_000)
    assert.ok(checked > 10_000, `checked ${checked} inputs`)
  })

  it('is equal on members whose views agree', () => {
    const cluster = new SimCluster({ seed: 7, size: 8, profile: 'lan' }).start()
    assert.ok(cluster.runUntil(() => cluster.upIds().length === 8 && cluster.converged(), 30_000) != null, 'no convergence')
    cluster.runFor(10_000)
    const digests = new Set(cluster.ids.map(id => JSON.stringify(cluster.core(id).viewDigest())))
    assert.equal(digests.size, 1)
  })

  it('follows a suspect whose incarnation rises while it stays suspect', () => {
    // The run above seldom sees it: a new accusation that overtook the refutation (membership-resuspicion.test.ts).
    const wire = new Wire({})
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) wire.add(id)
    wire.joinAll()
    const a = wire.core('a')
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [{ type: 'suspect', id: 'f', incarnation: 0, from: 'b' }] }))
    const before = a.viewDigest()
    wire.input('a', (core, now) => core.receive(now, 'c', { type: 'gossip', updates: [{ type: 'suspect', id: 'f', incarnation: 1, from: 'c' }] }))
    assert.equal(wire.status('a', 'f'), 'suspect')
    assert.notDeepEqual(a.viewDigest(), before)
    assert.deepEqual(a.viewDigest(), fromScratch(a))
  })
})
