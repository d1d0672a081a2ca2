/**
 * Probe turns (membership/probe-turns.ts) with Lifeguard: a node in poor
 * local health leaves the turns for rounds of its own, once per scaled
 * interval. The simulator tests (test/sim/probe-turns.test.ts)
 * show the turns themselves.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Wire } from './membership-harness.ts'
import { LAN } from '../../membership/config.ts'

const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']

function ownPings (wire: Wire, from: string, sinceMs: number): number {
  // All its own probes: nobody else's probes fail here, so nobody asks it to relay one.
  return wire.sent.filter(m => m.from === from && m.at >= sinceMs && m.msg.type === 'ping').length
}

describe('probe turns and local health', () => {
  it('a node whose probes fail without nacks probes less often; in good health once per interval', () => {
    const wire = new Wire()
    wire.sharedClockAtZero = 1_765_000_000_000
    for (const id of IDS) wire.add(id)
    wire.joinAll(30_000)
    const from = wire.now
    const windowMs = 20 * LAN.probeIntervalMs
    wire.advance(windowMs)
    const healthy = ownPings(wire, 'a', from)
    assert.ok(Math.abs(healthy - 20) <= 1, `in good health: ${healthy} probes in 20 intervals`)
    assert.equal(wire.core('a').stats().localHealth, 0)

    // Acks and nacks to `a` are lost: its probes fail and no intermediary's nack
    // says the path was fine, so Lifeguard blames `a` itself.
    wire.drop = m => m.to.id === 'a' && (m.msg.type === 'ack' || m.msg.type === 'nack')
    wire.advance(10 * LAN.probeIntervalMs)
    assert.ok(wire.core('a').stats().localHealth >= 3, `health score ${wire.core('a').stats().localHealth}`)
    const starvedFrom = wire.now
    wire.advance(windowMs)
    const starved = ownPings(wire, 'a', starvedFrom)
    // at a score of 3 or more, once per 4 intervals or less often
    assert.ok(starved <= 20 / 4, `in poor health: ${starved} probes in 20 intervals`)
  })
})
