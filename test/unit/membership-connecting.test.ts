/**
 * A ping that waits for a connection the transport is setting up has not
 * left: its missing ack is no evidence until it goes out (then the probe's
 * usual timeouts run from that moment) or the connection fails (then the
 * silence counts). The same holds for a ping a member relays for someone
 * else's probe: no nack while its ping waits for a handshake.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Wire } from './membership-harness.ts'
import type { Effect, Message } from '../../membership/index.ts'

type Send = Extract<Effect, { kind: 'send' }>

function cluster (ids: string[]): Wire {
  const wire = new Wire()
  for (const id of ids) wire.add(id)
  wire.joinAll()
  return wire
}

/** a's probe of c, taken out of the wire undelivered (as if the transport had it), with c silent from now on. */
function heldPing (wire: Wire): Send {
  wire.silent.add('c')
  const ping = wire.core('a').peerDisconnected(wire.now, 'c').find((e): e is Send => e.kind === 'send' && e.msg.type === 'ping')
  assert.ok(ping != null, 'a probes c')
  return ping
}

function pingReqsFor (wire: Wire, seq: number, since: number): number {
  return wire.sent.filter(s => s.from === 'a' && s.at >= since && s.msg.type === 'ping-req' && s.msg.seq === seq).length
}

const seqOf = (msg: Message): number => (msg as { seq: number }).seq

describe('membership core: a ping waiting for a connection', () => {
  it('is no evidence while it waits; once sent, the probe gets its usual interval', () => {
    const wire = cluster(['a', 'c'])
    const ping = heldPing(wire)
    const failures = wire.core('a').stats().probeFailures
    wire.input('a', (core, now) => core.connecting(now, ping.to, ping.msg))
    wire.advance(5000)
    assert.equal(wire.status('a', 'c'), 'alive', 'a handshake that takes 5 s says nothing of c')
    assert.equal(wire.core('a').stats().probeFailures, failures)
    wire.input('a', (core, now) => core.sentAfterConnecting(now, ping.to, ping.msg))
    const sentAt = wire.now
    assert.ok(wire.advanceUntil(() => wire.status('a', 'c') === 'suspect', 2000, 1))
    assert.equal(wire.now - sentAt, wire.config.probeIntervalMs, 'suspected one probe interval after the ping left')
  })

  it('a connection that fails makes the silence count: ping-reqs at once, suspect after the rest of an interval', () => {
    const wire = cluster(['a', 'b', 'c'])
    const ping = heldPing(wire)
    wire.input('a', (core, now) => core.connecting(now, ping.to, ping.msg))
    const from = wire.now
    wire.advance(3000)
    assert.equal(pingReqsFor(wire, seqOf(ping.msg), from), 0, 'no indirect probe while the ping waits')
    const failedAt = wire.now
    const effects = wire.input('a', (core, now) => core.deliveryFailed(now, ping.to, ping.msg, 'timeout'))
    assert.ok(effects.some(e => e.kind === 'send' && e.msg.type === 'ping-req' && e.to.id === 'b'), 'b is asked at once')
    const failures = wire.core('a').stats().probeFailures
    wire.advance(wire.config.probeIntervalMs - wire.config.probeTimeoutMs)
    assert.equal(wire.core('a').stats().probeFailures, failures + 1, 'the probe fails after the intermediaries had their time')
    assert.ok(wire.now - failedAt <= 500)
  })

  it('a transport that never reports does not hold the probe forever (probeConnectWaitMs)', () => {
    const wire = cluster(['a', 'b', 'c'])
    const ping = heldPing(wire)
    wire.input('a', (core, now) => core.connecting(now, ping.to, ping.msg))
    const from = wire.now
    wire.advance(wire.config.probeConnectWaitMs - 1)
    assert.equal(pingReqsFor(wire, seqOf(ping.msg), from), 0)
    wire.advance(1)
    assert.equal(pingReqsFor(wire, seqOf(ping.msg), from), 1, 'b is asked when the wait runs out')
  })

  it('reports of messages it does not know, or of no message at all, change nothing and never throw', () => {
    const wire = cluster(['a', 'c'])
    const a = wire.core('a')
    const deadline = a.nextDeadline()
    for (const msg of [null, undefined, 42, { type: 'ping' }, { type: 'ping', seq: 12345, target: 'c', updates: [] }, { type: 'gossip', updates: [] }]) {
      for (const to of [null, { addrs: [] }, { id: 'c', addrs: [] }]) {
        assert.deepEqual(a.connecting(wire.now, to as never, msg as unknown as Message), [])
        assert.deepEqual(a.sentAfterConnecting(wire.now, to as never, msg as unknown as Message), [])
      }
    }
    assert.equal(a.nextDeadline(), deadline)
  })

  it('a relay whose ping waits for a connection nacks only once it went out or the connection failed', () => {
    for (const outcome of ['sent', 'timeout'] as const) {
      const wire = cluster(['a', 'b', 'c'])
      wire.silent.add('c')
      const b = wire.core('b')
      const t0 = wire.now
      const relayed = b.receive(t0, 'a', { type: 'ping-req', seq: 9999, target: 'c', targetAddrs: [], nack: true, updates: [] })
        .find((e): e is Send => e.kind === 'send' && e.msg.type === 'ping' && e.msg.target === 'c')
      assert.ok(relayed != null, 'b pings c for a')
      b.connecting(t0, relayed.to, relayed.msg)
      const nacksUntil = (t: number): Message[] => {
        const out: Message[] = []
        for (let now = t0 + 1; now <= t; now++) {
          for (const e of b.tick(now)) if (e.kind === 'send' && e.msg.type === 'nack' && e.msg.seq === 9999) out.push(e.msg)
        }
        return out
      }
      assert.deepEqual(nacksUntil(t0 + 3000), [], `${outcome}: no nack while b's ping waits for a handshake`)
      if (outcome === 'sent') {
        assert.deepEqual(b.sentAfterConnecting(t0 + 3000, relayed.to, relayed.msg), [])
        const nacks = nacksUntil(t0 + 3000 + wire.config.probeTimeoutMs)
        assert.deepEqual(nacks.map(m => (m as { reason: string }).reason), ['timeout'], 'nacked as usual, counted from the send')
      } else {
        const effects = b.deliveryFailed(t0 + 3000, relayed.to, relayed.msg, 'timeout')
        const nacks = effects.filter(e => e.kind === 'send' && e.msg.type === 'nack').map(e => (e as Send).msg)
        assert.deepEqual(nacks.map(m => (m as { reason: string }).reason), ['timeout'], 'nacked at once: b tried and got nothing')
      }
    }
  })
})
