/**
 * A confirmation that arrives late can move a suspicion's deadline into the
 * past (Lifeguard shortens the timeout towards the minimum, counted from when
 * the suspicion began). That asks for a tick at once; it is not a timer this
 * process ran late, so it must not count as a stall: no local health, no
 * dropped probes, no push-pull at once. The core used to take it for one,
 * which in a start with thousands of suspicions made every agent believe it
 * was starved.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Wire, ringOf } from './membership-harness.ts'
import type { Message } from '../../membership/index.ts'

const IDS = ['a', 'b', 'c', 'd', 'e', 'f']

const mentionsF = (msg: Message): boolean =>
  msg.type === 'sync' || msg.type === 'digest' || ('updates' in msg && msg.updates.some(u => u.id === 'f'))

describe('membership core: a late confirmation', () => {
  it('that puts a suspicion past its deadline fails the member at once and is not a stall', () => {
    const wire = new Wire()
    for (const id of IDS) wire.add(id)
    wire.joinAll()
    // o: the member that does not probe f, so that it hears of f only what the test tells it.
    const o = IDS.find(id => id !== 'f' && !ringOf(id, IDS).successors(4).includes('f'))!
    const [p1, p2, p3] = IDS.filter(id => id !== 'f' && id !== o)
    wire.silent.add('f')
    wire.drop = m => m.to.id === o && mentionsF(m.msg)
    const suspect = (from: string): Message => ({ type: 'gossip', updates: [{ type: 'suspect', id: 'f', incarnation: 0, from }] })

    wire.input(o, (core, now) => core.receive(now, p1, suspect(p1)))
    assert.equal(wire.status(o, 'f'), 'suspect', 'one accuser: the maximum timeout (24 s at 6 members)')
    wire.advance(10_000)
    assert.equal(wire.status(o, 'f'), 'suspect')
    const health = wire.core(o).stats().localHealth
    const pushPulls = wire.core(o).stats().digestsSent

    // Two confirmations 10 s in: the timeout is the minimum (4 s), 6 s ago.
    wire.input(o, (core, now) => core.receive(now, p2, suspect(p2)))
    wire.input(o, (core, now) => core.receive(now, p3, suspect(p3)))
    wire.input(o, (core, now) => core.tick(now))
    assert.equal(wire.status(o, 'f'), 'failed', 'failed at once')
    assert.equal(wire.core(o).stats().localHealth, health, 'no local health for a deadline the input moved')
    assert.equal(wire.core(o).stats().digestsSent, pushPulls, 'no push-pull as after a stall')
  })
})
