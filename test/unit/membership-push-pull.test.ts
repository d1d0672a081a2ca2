/**
 * Push-pull anti-entropy with digests (membership/digest.ts, sync.ts): views that
 * agree exchange a digest and nothing else; a digest that differs starts the full
 * exchange. Early push-pulls after a join or a refuted verdict
 * (membership/push-pull-schedule.ts).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { viewDigest } from '../../membership/digest.ts'
import type { Member, MemberStatus } from '../../membership/index.ts'
import { addrOf, Wire } from './membership-harness.ts'

function cluster (ids: string[]): Wire {
  const wire = new Wire()
  for (const id of ids) wire.add(id)
  wire.joinAll()
  return wire
}

const member = (id: string, status: MemberStatus = 'alive', incarnation = 0, bootId = `boot-${id}`): Member =>
  ({ id, name: id, addrs: [], tags: {}, incarnation, bootId, status, statusSince: 0 })
const records = (...ms: Member[]): Array<{ member: Member }> => ms.map(m => ({ member: m }))

describe('membership: push-pull digests', () => {
  it('agreeing views push-pull with digests only: no full state goes over the wire', () => {
    const wire = cluster(['a', 'b', 'c', 'd'])
    const from = wire.sent.length
    wire.advance(3 * wire.config.pushPullIntervalMs)
    const window = wire.sent.slice(from)
    assert.ok(window.filter(s => s.msg.type === 'digest').length >= 4, 'every member pushed a digest')
    assert.deepEqual(window.filter(s => s.msg.type === 'sync'), [])
    for (const id of ['a', 'b', 'c', 'd']) {
      assert.equal(wire.core(id).stats().digestsDiffered, 0)
      assert.equal(wire.core(id).stats().syncsSentFor.pushPull, 0)
    }
  })

  it('a digest that differs from the receiver view starts the full exchange; the same digest again does nothing', () => {
    const wire = cluster(['a', 'b', 'c'])
    const b = wire.core('b')
    const stale = { type: 'digest' as const, members: 2, hash: 12345 }
    const effects = b.receive(wire.now, 'a', stale)
    assert.equal(effects.length, 1)
    const sync = effects[0]
    assert.ok(sync.kind === 'send' && sync.msg.type === 'sync' && sync.msg.reply && !sync.msg.join)
    assert.equal(sync.to.id, 'a')
    assert.deepEqual(sync.msg.members.map(m => m.id).sort(), ['a', 'b', 'c'])
    assert.equal(b.stats().digestsDiffered, 1)
    assert.equal(b.stats().syncsSentFor.pushPull, 1)

    // a real digest of a's view: b agrees with it
    const from = wire.sent.length
    assert.ok(wire.advanceUntil(() => wire.sent.slice(from).some(s => s.from === 'a' && s.msg.type === 'digest'), 2 * wire.config.pushPullIntervalMs))
    const digest = wire.sent.slice(from).find(s => s.from === 'a' && s.msg.type === 'digest')!.msg
    assert.deepEqual(wire.core('c').receive(wire.now, 'a', digest), [])
    assert.deepEqual(b.receive(wire.now, 'a', digest), [])
  })

  it('a member that joined pushes digests early, at gaps doubling from a probe interval, then once a period', () => {
    const wire = new Wire()
    wire.add('a')
    wire.add('b')
    wire.input('b', (core, now) => core.join(now, [{ addrs: [addrOf('a')] }]))
    const joinedAt = wire.now
    wire.advance(4 * wire.config.pushPullIntervalMs)
    const times = wire.sent.filter(s => s.from === 'b' && s.msg.type === 'digest').map(s => s.at - joinedAt)
    const probe = wire.config.probeIntervalMs
    const period = wire.config.pushPullIntervalMs // two members: not scaled
    // each early gap is randomized in [1/2, 1] of 1, 2, 4, 8, 16 probe intervals
    const gaps = times.map((t, i) => t - (i === 0 ? 0 : times[i - 1]))
    for (const [i, intervals] of [1, 2, 4, 8, 16].entries()) {
      assert.ok(gaps[i] >= intervals * probe / 2 && gaps[i] <= intervals * probe + 50, `early push-pull ${i + 1}: ${gaps[i]} ms after the one before`)
    }
    // then the period (32 probe intervals would be longer than it)
    assert.ok(gaps.length >= 7)
    for (const gap of gaps.slice(5)) assert.ok(Math.abs(gap - period) <= 50, `then every ${period} ms: ${gap}`)
  })

  it('a member that refutes a verdict of failure about itself pushes digests early, from eight probe intervals, even while its join\'s series runs', () => {
    const wire = cluster(['a', 'b', 'c'])
    // b's join: its early push-pulls 1, 2, 4 and 8 intervals apart; after the fourth, 16
    const digestsOfB = (): number => wire.sent.filter(s => s.from === 'b' && s.msg.type === 'digest').length
    assert.ok(wire.advanceUntil(() => digestsOfB() >= 4, 30_000))
    const verdict = { type: 'dead' as const, id: 'b', incarnation: 0, from: 'a', cause: 'unreachable' as const }
    wire.input('b', (core, now) => core.receive(now, 'a', { type: 'gossip', updates: [verdict] }))
    assert.equal(wire.core('b').stats().refutations, 1)
    const refutedAt = wire.now
    // the same cut, heard from another member after the refutation: not a second series
    wire.advance(wire.config.probeIntervalMs)
    wire.input('b', (core, now) => core.receive(now, 'c', { type: 'gossip', updates: [{ ...verdict, from: 'c' }] }))
    wire.advance(2 * wire.config.pushPullIntervalMs)
    const times = wire.sent.filter(s => s.from === 'b' && s.msg.type === 'digest' && s.at > refutedAt).map(s => s.at - refutedAt)
    const probe = wire.config.probeIntervalMs
    const gaps = times.map((t, i) => t - (i === 0 ? 0 : times[i - 1]))
    // randomized in [1/2, 1] of 8 and 16 probe intervals, then the period (32 intervals would be longer)
    for (const [i, intervals] of [8, 16].entries()) {
      assert.ok(gaps[i] >= intervals * probe / 2 && gaps[i] <= intervals * probe + 50, `early push-pull ${i + 1}: ${gaps[i]} ms after the one before`)
    }
    assert.ok(Math.abs(gaps[2] - wire.config.pushPullIntervalMs) <= 50, `then the period: ${gaps[2]}`)
  })

  it('a digest from a stranger is answered once, by pulling its state', () => {
    const wire = cluster(['a', 'b'])
    const effects = wire.core('a').receive(wire.now, 'z', { type: 'digest', members: 1, hash: 1 })
    const syncs = effects.filter(e => e.kind === 'send' && e.msg.type === 'sync')
    assert.equal(syncs.length, 1)
    assert.equal(wire.core('a').stats().syncsSentFor.stranger, 1)
    assert.equal(wire.core('a').stats().digestsDiffered, 0)
  })

  it('the digest ignores the order members were learned in and suspicion; it sees boot, incarnation, failure and leave', () => {
    const self = member('s')
    const base = viewDigest(self, records(member('x'), member('y')))
    assert.deepEqual(viewDigest(self, records(member('y'), member('x'))), base)
    assert.deepEqual(viewDigest(self, records(member('x', 'suspect'), member('y'))), base)
    assert.equal(base.members, 3)
    for (const changed of [
      records(member('x', 'alive', 1), member('y')),
      records(member('x', 'alive', 0, 'other-boot'), member('y')),
      records(member('x', 'failed'), member('y')),
      records(member('x', 'left'), member('y')),
      records(member('x')),
      records(member('x'), member('y'), member('z'))
    ]) assert.notDeepEqual(viewDigest(self, changed), base)
    assert.ok(Number.isSafeInteger(base.hash) && base.hash >= 0)
  })
})
