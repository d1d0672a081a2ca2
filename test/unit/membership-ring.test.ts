import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Ring } from '../../membership/neighbors.ts'
import type { Effect, Update } from '../../membership/index.ts'
import { addrOf, ringOf, Wire } from './membership-harness.ts'

const ids = (n: number, prefix = 'm'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

describe('membership ring: who talks to whom', () => {
  it('every view orders members the same, whatever order they were learned in', () => {
    const members = ids(40)
    const a = new Ring('self')
    const b = new Ring('self')
    for (const id of members) a.sync(id, true)
    for (const id of [...members].reverse()) b.sync(id, true)
    assert.deepEqual(a.successors(4), b.successors(4))
    assert.deepEqual(a.neighbours(4, 3), b.neighbours(4, 3))
  })

  it('a neighbourhood holds successors, predecessors and long links, without repeats or self', () => {
    const ring = new Ring('self')
    for (const id of ids(100)) ring.sync(id, true)
    const n = ring.neighbours(4, 3)
    assert.equal(new Set(n).size, n.length)
    assert.ok(!n.includes('self'))
    assert.equal(n.length, 4 + 4 + 3)
    assert.deepEqual(n.slice(0, 4), ring.successors(4))
  })

  it('the probers of a member, as any one view sees them, are the members that have it as a successor', () => {
    const members = ids(30)
    const probersOf = (target: string): string[] => members.filter(id => id !== target && ringOf(id, members).successors(4).includes(target)).sort()
    for (const self of members.slice(0, 10)) {
      for (const target of members) {
        if (target === self) continue
        assert.deepEqual([...ringOf(self, members).predecessorsOf(target, 4)].sort(), probersOf(target).filter(id => id !== self), `${target} seen from ${self}`)
      }
    }
  })

  it('a member knows whose neighbourhood it is in, long links included, as each of those members sees it', () => {
    const members = ids(40)
    let longLinkedOnly = 0
    for (const self of members) {
      const mine = ringOf(self, members)
      for (const other of members) {
        if (other === self) continue
        const theirs = ringOf(other, members).neighbours(4, 3)
        assert.equal(mine.inNeighbourhoodOf(other, 4, 3), theirs.includes(self), `${self} in the neighbourhood of ${other}`)
        if (theirs.includes(self) && !mine.neighbours(4, 3).includes(other)) longLinkedOnly++
      }
    }
    assert.ok(longLinkedOnly > 0, 'some neighbourhoods are not mutual (long links), or this test shows nothing')
    assert.equal(ringOf('m0', members).inNeighbourhoodOf('absent', 4, 3), false)
  })

  it('a member that leaves the ring is replaced by the next one; a small ring is walked once', () => {
    const ring = new Ring('self')
    for (const id of ids(10)) ring.sync(id, true)
    const [first, second] = ring.successors(2)
    ring.sync(first, false)
    assert.equal(ring.successors(1)[0], second)
    assert.equal(ring.size, 9)
    const small = new Ring('self')
    for (const id of ids(3)) small.sync(id, true)
    assert.equal(small.successors(4).length, 3)
    assert.equal(small.neighbours(4, 3).length, 3)
  })

  it('successors passed over (suspects) are included and not counted, so the members behind them are probed too', () => {
    const ring = new Ring('self')
    for (const id of ids(10)) ring.sync(id, true)
    const plain = ring.successors(6)
    const suspects = new Set([plain[0], plain[2], plain[3]])
    assert.deepEqual(ring.successors(3, id => suspects.has(id)), plain, 'three counted, three passed over')
    assert.equal(ring.successors(20, () => true).length, 10, 'the ring is walked once at most')
  })
})

describe('membership core with the ring', () => {
  const N = 40
  const config = { probeNeighbors: 4, longLinks: 3 }

  it('each member probes only its successors, every member is probed, and each talks to a bounded set', () => {
    const wire = new Wire(config)
    for (const id of ids(N)) wire.add(id)
    wire.joinAll(20_000)
    for (const id of ids(N)) assert.equal(wire.core(id).members().filter(m => m.status === 'alive').length, N, `${id} sees everyone`)
    const from = wire.sent.length
    wire.advance(60_000)
    const window = wire.sent.slice(from)
    const probed = new Set<string>()
    const contacts: number[] = []
    for (const id of ids(N)) {
      const pings = window.filter(s => s.from === id && s.msg.type === 'ping' && s.msg.target === s.to.id)
      const targets = new Set(pings.map(s => s.to.id))
      for (const t of targets) probed.add(t!)
      assert.ok(targets.size <= config.probeNeighbors, `${id} probed ${targets.size} members`)
      // What it starts itself (answers go to whoever asked: members whose long links land here).
      const started = new Set(window.filter(s => s.from === id && (s.msg.type === 'ping' || s.msg.type === 'ping-req' || s.msg.type === 'gossip' ||
        (s.msg.type === 'sync' && s.msg.reply))).map(s => s.to.id))
      assert.ok(started.size <= 2 * config.probeNeighbors + config.longLinks, `${id} started talking to ${started.size} members`)
      contacts.push(new Set(window.filter(s => s.from === id || s.to.id === id).map(s => s.from === id ? s.to.id : s.from)).size)
    }
    assert.equal(probed.size, N, 'every member is probed by someone')
    // Every member besides its own neighbourhood hears from those whose long links land on it: about longLinks more on average.
    const mean = contacts.reduce((a, b) => a + b, 0) / contacts.length
    assert.ok(mean <= 2 * (config.probeNeighbors + config.longLinks), `a member talks to ${mean} others on average, of ${N - 1}`)
  })

  it('a silent member is failed in every view, and nothing else is', () => {
    const wire = new Wire(config)
    for (const id of ids(N)) wire.add(id)
    wire.joinAll(20_000)
    wire.silent.add('m7')
    const others = ids(N).filter(id => id !== 'm7')
    assert.ok(wire.advanceUntil(() => others.every(id => wire.status(id, 'm7') === 'failed'), 60_000, 100))
    for (const id of others) assert.deepEqual(wire.eventsOf(id, 'member:failed').map(e => e.member.id), ['m7'])
  })

  it('a silent member is pinged by its neighbours and their intermediaries only, and a prober asks its fellow probers first', () => {
    const wire = new Wire(config)
    for (const id of ids(N)) wire.add(id)
    wire.joinAll(20_000)
    const from = wire.sent.length
    wire.silent.add('m7')
    const others = ids(N).filter(id => id !== 'm7')
    assert.ok(wire.advanceUntil(() => others.every(id => wire.status(id, 'm7') === 'failed'), 60_000, 100))
    const window = wire.sent.slice(from)
    const neighboursOfM7 = others.filter(id => ringOf(id, ids(N)).neighbours(config.probeNeighbors, config.longLinks).includes('m7'))
    const probersOfM7 = others.filter(id => ringOf(id, ids(N)).successors(config.probeNeighbors).includes('m7'))
    const asked = window.filter(s => s.msg.type === 'ping-req' && s.msg.target === 'm7')
    const intermediaries = new Set(asked.map(s => s.to.id))
    // Everyone hears of the suspicion; a last check by each would be N - 1 dials of one member.
    const pingedBy = new Set(window.filter(s => s.to.id === 'm7' && s.msg.type === 'ping').map(s => s.from))
    for (const id of pingedBy) assert.ok(neighboursOfM7.includes(id) || intermediaries.has(id), `${id} pinged m7 unasked, not one of its neighbours`)
    assert.ok(pingedBy.size < N / 2, `${pingedBy.size} members pinged m7`)
    // A prober's intermediaries probe m7 themselves, so they hold a connection to it already;
    // members heard from lately come first (probe.ts sendIndirect), so a fellow prober that
    // has not talked to this one lately may give way to a neighbour that has: most, not all.
    const byProbers = asked.filter(s => probersOfM7.includes(s.from))
    assert.ok(byProbers.length > 0, 'indirect probes')
    const toProbers = byProbers.filter(s => probersOfM7.includes(s.to.id!))
    assert.ok(toProbers.length >= 0.8 * byProbers.length, `${toProbers.length} of ${byProbers.length} indirect probes by probers went to fellow probers`)
  })

  it('a member whose ring successors are all cut off asks members it hears from, and the silence of the others does not count against its health', () => {
    // m0's eight successors on one side of a cut, everyone else on the other: m0 probes
    // through the run, and the run's own members are the probers of most of it. Asking
    // them (silent, as far as m0 can tell) and counting each missed nack raised m0's
    // local health to 7 in this run, which stretches its probes eightfold.
    const all = ids(20)
    const wire = new Wire()
    all.forEach((id, i) => wire.add(id, i + 1))
    wire.joinAll()
    const cut = new Set(ringOf('m0', all).successors(8))
    wire.drop = m => cut.has(m.from) !== cut.has(m.to.id ?? '')
    let worst = 0
    assert.ok(wire.advanceUntil(() => {
      worst = Math.max(worst, wire.core('m0').stats().localHealth)
      return [...cut].every(id => wire.status('m0', id) === 'failed')
    }, 120_000))
    assert.ok(worst <= 3, `local health reached ${worst}`)
  })

  it('a member that enters the neighbourhood because a neighbour failed gets a digest at once; one that joins does not', () => {
    const wire = new Wire(config)
    for (const id of ids(N)) wire.add(id)
    wire.joinAll(20_000)
    const m0 = wire.core('m0')
    const before = m0.neighbours()
    const gone = ringOf('m0', ids(N)).successors(1)[0]
    const digestsTo = (effects: Effect[]): string[] => effects.flatMap(e => e.kind === 'send' && e.msg.type === 'digest' ? [e.to.id!] : [])
    // The verdict, as gossip from another member: what went out before the newcomer was a
    // neighbour it never got from m0 (the queue sent it to the neighbours of then).
    const accuser = before.find(id => id !== gone)!
    const dead: Update = { type: 'dead', id: gone, incarnation: m0.member(gone)!.incarnation, from: accuser, cause: 'unreachable' }
    const effects = m0.receive(wire.now, accuser, { type: 'gossip', updates: [dead] })
    assert.equal(m0.member(gone)?.status, 'failed')
    const entered = m0.neighbours().filter(id => !before.includes(id))
    assert.ok(entered.length > 0)
    assert.deepEqual(digestsTo(effects).sort(), entered.sort())
    // A newcomer on the ring moves the neighbourhood too, but it syncs with its seed anyway.
    const live = m0.members().filter(m => m.status === 'alive').map(m => m.id)
    const joinerId = Array.from({ length: 100 }, (_, i) => `late${i}`).find(id => ringOf('m0', [...live, id]).neighbours(config.probeNeighbors, config.longLinks).includes(id))!
    const join = wire.add(joinerId).join(wire.now, [{ id: 'm0', addrs: [addrOf('m0')] }])[0]
    assert.ok(join.kind === 'send' && join.msg.type === 'sync')
    const answered = m0.receive(wire.now, joinerId, join.msg)
    assert.ok(m0.neighbours().includes(joinerId))
    assert.deepEqual(digestsTo(answered), [])
  })

  it('a leaving member tells its neighbourhood and every view marks it left', () => {
    const wire = new Wire(config)
    for (const id of ids(N)) wire.add(id)
    wire.joinAll(20_000)
    const effects = wire.input('m3', (core, now) => core.leave(now))
    assert.ok(effects.filter(e => e.kind === 'send').length <= 2 * config.probeNeighbors + config.longLinks)
    const others = ids(N).filter(id => id !== 'm3')
    assert.ok(wire.advanceUntil(() => others.every(id => wire.status(id, 'm3') === 'left'), 10_000, 50))
    for (const id of others) assert.deepEqual(wire.eventsOf(id, 'member:failed'), [])
  })
})
