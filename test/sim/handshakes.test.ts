/**
 * A start where setting up a connection takes longer than a probe interval,
 * as on a host where many agents start together (docs/scale.md): a ping that
 * waits for its handshake is not counted as lost (membership/probe.ts), so
 * no live member is suspected for the handshake's speed. With the wait cut
 * to nothing (probeConnectWaitMs: 1, the probe goes on as if the ping were
 * lost) and no first-ack patience (which alone would wait out a handshake
 * for a new member's first probe) the same start suspects members: the test
 * has teeth.
 *
 * Replay: `SIM_SEED=<seed> npm run test:sim`.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SimCluster } from '../../testkit/sim/cluster.ts'
import type { MembershipConfig } from '../../membership/index.ts'
import { seeded } from './seed.ts'

const N = 30
/** Every new connection takes 1.2-3 s: longer than the 1-s probe interval. */
const HANDSHAKE = { minMs: 1200, maxMs: 3000 }
const CONVERGE_MS = 60_000
const { simulate } = seeded(0x4a5d)

function start (seed: number, config: Partial<MembershipConfig>): { suspicions: number, falseFailures: number } {
  const cluster = new SimCluster({
    seed,
    size: N,
    config,
    joinWithinMs: 5000,
    handshake: random => HANDSHAKE.minMs + random() * (HANDSHAKE.maxMs - HANDSHAKE.minMs)
  }).start()
  const took = cluster.runUntil(() => cluster.upIds().length === N && cluster.converged(), CONVERGE_MS)
  assert.ok(took != null, `not converged within ${CONVERGE_MS} ms`)
  cluster.runFor(30_000)
  const suspicions = cluster.events.filter(e => e.event.type === 'member:suspect').length
  const falseFailures = cluster.events.filter(e => e.event.type === 'member:failed').length
  return { suspicions, falseFailures }
}

describe(`membership simulation: ${N} nodes starting where a handshake outlasts the probe interval`, () => {
  it('no live member is suspected or failed for its handshake\'s speed; without the wait for the handshake, members are', simulate(0, (seed) => {
    const waiting = start(seed, {})
    assert.deepEqual(waiting, { suspicions: 0, falseFailures: 0 })
    // first-ack patience off too: it alone would wait out these handshakes for a new member's first probe
    const counting = start(seed, { probeConnectWaitMs: 1, firstAckPatienceMs: 0 })
    assert.ok(counting.suspicions > 0, 'members suspected when a handshake counts as silence')
  }))
})
