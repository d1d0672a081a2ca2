import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { EDGE, LAN, PROFILE_NAMES, PROFILES, fromPartial, validate, InvalidMembershipConfigError } from '../../membership/config.ts'
import { suspicionMaxTimeoutMs, suspicionMinTimeoutMs } from '../../membership/formulas.ts'
import { PROFILE_FOOTPRINT, resolveOptions, InvalidAgentOptionError } from '../../agent/config.ts'
import { fromPartial as transportFromPartial, DEFAULT_TRANSPORT_CONFIG } from '../../gossip/config.ts'

describe('profiles', () => {
  it('every listed profile exists and validates', () => {
    assert.deepEqual([...PROFILE_NAMES].sort(), Object.keys(PROFILES).sort())
    for (const name of PROFILE_NAMES) {
      assert.doesNotThrow(() => validate({ ...PROFILES[name] }), name)
      assert.doesNotThrow(() => transportFromPartial(PROFILE_FOOTPRINT[name].transport), name)
    }
  })

  it('edge: fewer, smaller, slower messages than lan', () => {
    assert.equal(fromPartial({}, 'edge').probeIntervalMs, 2000)
    assert.ok(EDGE.probeIntervalMs > LAN.probeIntervalMs)
    assert.ok(EDGE.gossipIntervalMs > LAN.gossipIntervalMs)
    assert.ok(EDGE.gossipNodes < LAN.gossipNodes)
    assert.ok(EDGE.maxPiggybackUpdates < LAN.maxPiggybackUpdates)
    assert.ok(EDGE.pushPullIntervalMs > LAN.pushPullIntervalMs)
    // Gossip messages per second per node: gossipNodes / gossipIntervalMs; edge sends 4 a second, lan 15.
    assert.equal(EDGE.gossipNodes / EDGE.gossipIntervalMs * 1000, 4)
    assert.equal(LAN.gossipNodes / LAN.gossipIntervalMs * 1000, 15)
  })

  it('edge: failure detection is exactly twice as slow as lan (the documented trade-off)', () => {
    const ratio = EDGE.probeIntervalMs / LAN.probeIntervalMs
    assert.equal(ratio, 2)
    assert.equal(EDGE.suspicionMult, LAN.suspicionMult)
    assert.equal(EDGE.suspicionMaxTimeoutMult, LAN.suspicionMaxTimeoutMult)
    for (const n of [5, 10, 50]) {
      const edgeMin = suspicionMinTimeoutMs(EDGE.suspicionMult, n, EDGE.probeIntervalMs)
      const lanMin = suspicionMinTimeoutMs(LAN.suspicionMult, n, LAN.probeIntervalMs)
      assert.ok(Math.abs(edgeMin - ratio * lanMin) <= 1, `n=${n}: ${edgeMin} vs ${lanMin}`)
    }
    assert.equal(suspicionMinTimeoutMs(EDGE.suspicionMult, 10, EDGE.probeIntervalMs), 8000)
    assert.equal(suspicionMaxTimeoutMs(8000, EDGE.suspicionMaxTimeoutMult), 48000)
  })

  it('edge: the partition window still covers the max suspicion timeout of 50 members', () => {
    const max = suspicionMaxTimeoutMs(suspicionMinTimeoutMs(EDGE.suspicionMult, 50, EDGE.probeIntervalMs), EDGE.suspicionMaxTimeoutMult)
    assert.ok(EDGE.partitionWindowMs >= max, `${EDGE.partitionWindowMs} < ${max}`)
  })

  it('edge: lower connection limit and smaller queues, overridable per field', () => {
    const edge = resolveOptions({ name: 'x', profile: 'edge' })
    assert.equal(edge.node.maxConnections, 64)
    const transport = transportFromPartial(edge.transport)
    assert.ok(transport.maxQueuedBytesPerPeer < DEFAULT_TRANSPORT_CONFIG.maxQueuedBytesPerPeer)
    assert.ok(transport.maxQueuedMessagesPerPeer < DEFAULT_TRANSPORT_CONFIG.maxQueuedMessagesPerPeer)
    assert.ok(transport.maxQueuedBytesPerPeer >= transport.maxMessageBytes)
    const lan = resolveOptions({ name: 'x' })
    assert.equal(lan.node.maxConnections, undefined)
    assert.deepEqual(lan.transport, {})
    const overridden = resolveOptions({ name: 'x', profile: 'edge', maxConnections: 200, transport: { maxQueuedMessagesPerPeer: 512 } })
    assert.equal(overridden.node.maxConnections, 200)
    assert.equal(overridden.transport.maxQueuedMessagesPerPeer, 512)
    assert.equal(overridden.transport.maxQueuedBytesPerPeer, 256 * 1024)
  })

  it('unknown profiles are rejected with the list of names, edge included', () => {
    assert.throws(() => resolveOptions({ name: 'x', profile: 'tiny' as 'lan' }), (err: Error) =>
      err instanceof InvalidAgentOptionError && /lan, wan, local, edge/.test(err.message))
    assert.throws(() => fromPartial({}, 'tiny' as 'lan'), (err: Error) =>
      err instanceof InvalidMembershipConfigError && /lan, wan, local, edge/.test(err.message))
    assert.throws(() => resolveOptions({ name: 'x', maxConnections: 0 }), InvalidAgentOptionError)
  })
})
