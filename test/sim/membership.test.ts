/**
 * Membership simulation: 50 cores on a lossy in-memory network (lan profile).
 *
 * Replay a failure exactly with the seed it prints: `SIM_SEED=<seed> npm run test:sim`.
 * `SIM_SEED=random` picks a fresh seed per test.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SimCluster, type ObservedEvent } from '../../testkit/sim/cluster.ts'
import { seeded } from './seed.ts'

/** Cluster size. */
const N = 50
/** Loss rate of every link, both ways: the rate under which no live node may be declared failed. */
const LOSS = 0.05
/** One-way latency range. */
const LATENCY = { min: 1, max: 10 }
const DEFAULT_SEED = 0x5eed

/**
 * Bounds, in simulated ms. Convergence from one seed typically takes 3-4 s; a
 * member that missed another's announcement waits for a push-pull round (the
 * early one after joining, else the regular one at most 30 s in): worst seen
 * over 650 seeds was 28.6 s.
 */
const CONVERGE_MS = 40_000
/**
 * Steady state before faults are injected: by then every pair of nodes has
 * talked (SWIM probes everyone each round), so every node holds a connection
 * to a process that gets killed, as on a real cluster.
 */
const WARM_UP_MS = 60_000
/** kill -9: connection refused -> refusedSuspicionTimeoutMs (500 ms) plus dissemination. */
const REFUSED_CRASH_DETECTED_MS = 5_000
/** Silent crash: probe, Lifeguard suspicion (min 6.8 s, max 40.8 s for n = 50), dissemination. */
const SILENT_CRASH_DETECTED_MS = 45_000
const REFUTE_MS = 5_000
const LEAVE_MS = 3_000

const { simulate } = seeded(DEFAULT_SEED)

interface Sim {
  cluster: SimCluster
  violations: string[]
}

/** Boots N nodes from one seed, with invariant checks on every member event. */
function boot (seed: number): Sim {
  const cluster = new SimCluster({ seed, size: N, profile: 'lan', lossRate: LOSS, latencyMs: LATENCY })
  const violations: string[] = []
  cluster.onEvent((e: ObservedEvent) => {
    const about = e.event.member.id
    if (about === e.observer) violations.push(`${e.observer} emitted ${e.event.type} about itself`)
    // (b) no live node is ever declared failed by anyone.
    if (e.event.type === 'member:failed' && !cluster.faulted.has(about)) {
      violations.push(`${e.observer} declared live ${about} failed at ${e.at} ms`)
    }
    if (e.event.type === 'member:failed' && cluster.truth.get(about) === 'left') {
      violations.push(`${e.observer} declared ${about} failed after it left, at ${e.at} ms`)
    }
  })
  cluster.start()
  const took = cluster.runUntil(() => cluster.upIds().length === N && cluster.converged(), CONVERGE_MS + 2000)
  assert.ok(took != null, `cluster did not converge within ${CONVERGE_MS} ms`)
  cluster.runFor(WARM_UP_MS)
  return { cluster, violations }
}

function pick (cluster: SimCluster, count: number, exclude: string[] = []): string[] {
  // Deterministic choice from the cluster's own generator; never the seed node.
  const candidates = cluster.upIds().filter(id => id !== SimCluster.nodeId(0) && !exclude.includes(id))
  const out: string[] = []
  while (out.length < count && candidates.length > 0) {
    out.push(candidates.splice(Math.floor(cluster.random() * candidates.length), 1)[0])
  }
  return out
}

function assertNoLiveNodeFailed (sim: Sim): void {
  assert.deepEqual(sim.violations.slice(0, 10), [], `${sim.violations.length} invariant violations`)
  const { cluster } = sim
  for (const observer of cluster.upIds()) {
    for (const about of cluster.upIds()) {
      const status = cluster.view(observer, about)?.status
      assert.ok(status === 'alive' || status === 'suspect', `${observer} sees live ${about} as ${status}`)
    }
    // Every claim is signed (fake-signer.ts) and relayed with its signature: an honest cluster rejects none.
    assert.equal(cluster.core(observer).stats().signaturesRejected, 0, `${observer} rejected an honest claim`)
  }
}

describe(`membership simulation: ${N} nodes, lan profile, ${LOSS * 100}% loss`, () => {
  it('(d) converges from a single seed', simulate(0, (seed) => {
    const cluster = new SimCluster({ seed, size: N, profile: 'lan', lossRate: LOSS, latencyMs: LATENCY }).start()
    const took = cluster.runUntil(() => cluster.upIds().length === N && cluster.converged(), CONVERGE_MS)
    assert.ok(took != null, `not converged after ${CONVERGE_MS} ms`)
    for (const id of cluster.ids) assert.equal(cluster.core(id).members().length, N)
    // And it stays converged: no false failure while nothing fails.
    const failed = (): ObservedEvent[] => cluster.events.filter(e => e.event.type === 'member:failed')
    cluster.runFor(30_000)
    assert.deepEqual(failed(), [])
    assert.ok(cluster.converged() || cluster.runUntil(() => cluster.converged(), 10_000) != null)
  }))

  it('(a, b) crashed nodes are declared failed by every live node within a bound; no live node ever is', simulate(1, (seed) => {
    const sim = boot(seed)
    const { cluster } = sim
    const killed = pick(cluster, 3)
    const silent = pick(cluster, 2, killed)
    const t0 = cluster.now
    for (const id of killed) cluster.crash(id, { refuse: true })
    for (const id of silent) cluster.crash(id, { refuse: false })

    const refusedTook = cluster.runUntil(() => killed.every(id => cluster.allSee(id, 'failed')), REFUSED_CRASH_DETECTED_MS)
    assert.ok(refusedTook != null, `kill -9 not detected everywhere within ${REFUSED_CRASH_DETECTED_MS} ms`)
    for (const observer of cluster.upIds()) {
      for (const id of killed) assert.equal(cluster.view(observer, id)?.cause, 'crash', `${observer} on ${id}`)
    }
    const silentTook = cluster.runUntil(() => silent.every(id => cluster.allSee(id, 'failed')), SILENT_CRASH_DETECTED_MS - (cluster.now - t0))
    assert.ok(silentTook != null, `silent crash not detected everywhere within ${SILENT_CRASH_DETECTED_MS} ms`)
    for (const observer of cluster.upIds()) {
      for (const id of silent) assert.notEqual(cluster.view(observer, id)?.cause, 'left')
    }
    // Keep running with loss: live nodes must never be declared failed.
    cluster.runFor(60_000)
    assertNoLiveNodeFailed(sim)
  }))

  it('(c) a node frozen until declared failed refutes after resuming and is alive everywhere again', simulate(2, (seed) => {
    const sim = boot(seed)
    const { cluster } = sim
    const [frozen] = pick(cluster, 1)
    cluster.freeze(frozen)
    const declared = cluster.runUntil(() => cluster.allSee(frozen, 'failed'), SILENT_CRASH_DETECTED_MS)
    assert.ok(declared != null, `frozen node not declared failed within ${SILENT_CRASH_DETECTED_MS} ms`)
    cluster.runFor(5_000)
    const resumedAt = cluster.now
    const before = cluster.core(frozen).stats()
    cluster.resume(frozen)
    const back = cluster.runUntil(() => cluster.allSee(frozen, 'alive'), REFUTE_MS, 10)
    assert.ok(back != null, `resumed node not alive everywhere within ${REFUTE_MS} ms`)
    assert.ok(cluster.core(frozen).self.incarnation > 0, 'it refuted with a higher incarnation')
    // No storm from the resumed node: its overdue timers accuse nobody.
    const after = cluster.core(frozen).stats()
    assert.equal(after.suspicionsRaised - before.suspicionsRaised, 0, 'suspicions raised by the resumed node')
    assert.equal(after.probeFailures - before.probeFailures, 0, 'probe failures of the resumed node')
    const failures = cluster.events.filter(e => e.observer === frozen && e.at >= resumedAt && e.event.type === 'member:failed')
    assert.deepEqual(failures.map(e => e.event.member.id), [])
    cluster.runFor(30_000)
    assertNoLiveNodeFailed(sim)
  }))

  it('(e) a leave is seen by every member, and nobody declares the leaver failed', simulate(3, (seed) => {
    const sim = boot(seed)
    const { cluster } = sim
    const [leaver] = pick(cluster, 1)
    cluster.leave(leaver)
    const took = cluster.runUntil(() => cluster.allSee(leaver, 'left'), LEAVE_MS, 10)
    assert.ok(took != null, `leave not seen everywhere within ${LEAVE_MS} ms`)
    cluster.runFor(30_000)
    assert.ok(cluster.allSee(leaver, 'left'))
    assert.deepEqual(cluster.events.filter(e => e.event.member.id === leaver && e.event.type === 'member:failed'), [])
    assertNoLiveNodeFailed(sim)
  }))

  it('force-leave retires crashed nodes everywhere and never a live one', simulate(5, (seed) => {
    const sim = boot(seed)
    const { cluster } = sim
    const killed = pick(cluster, 2)
    const [live] = pick(cluster, 1, killed)
    cluster.crash(killed[0], { refuse: true })
    cluster.crash(killed[1], { refuse: false })
    assert.ok(cluster.runUntil(() => killed.every(id => cluster.allSee(id, 'failed')), SILENT_CRASH_DETECTED_MS) != null)
    const operator = SimCluster.nodeId(0)
    for (const id of [...killed, live]) cluster.forceLeave(operator, id)
    const took = cluster.runUntil(() => killed.every(id => cluster.allSee(id, 'left')), LEAVE_MS, 10)
    assert.ok(took != null, `force-leave not seen everywhere within ${LEAVE_MS} ms`)
    cluster.runFor(30_000)
    assert.deepEqual(cluster.events.filter(e => e.event.member.id === live && e.event.type === 'member:leave'), [])
    assertNoLiveNodeFailed(sim)
  }))

  it('a killed node that restarts (new boot id) is alive everywhere again', simulate(4, (seed) => {
    const sim = boot(seed)
    const { cluster } = sim
    const [node] = pick(cluster, 1)
    cluster.crash(node, { refuse: true })
    assert.ok(cluster.runUntil(() => cluster.allSee(node, 'failed'), REFUSED_CRASH_DETECTED_MS) != null)
    cluster.restart(node)
    const took = cluster.runUntil(() => cluster.allSee(node, 'alive'), 10_000)
    assert.ok(took != null, 'restarted node not alive everywhere within 10 s')
    for (const observer of cluster.upIds()) assert.equal(cluster.view(observer, node)?.bootId, `${node}-boot-2`)
    const aliveInItsView = (): number => cluster.core(node).members().filter(m => m.status === 'alive').length
    assert.ok(cluster.runUntil(() => aliveInItsView() === N, 10_000) != null, `the restarted node sees ${aliveInItsView()} alive`)
    assertNoLiveNodeFailed(sim)
  }))
})
