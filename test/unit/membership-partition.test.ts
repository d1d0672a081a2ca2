/**
 * Telling a crash from a partition (membership/partition.ts): the side formula,
 * the last stable membership, the cause given to silent failures, and the
 * partition:detected / partition:healed events.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { sideOf, type Effect, type FailureCause, type Health, type MembershipConfig, type Side } from '../../membership/index.ts'
import { addrOf, Wire, type SentMessage } from './membership-harness.ts'

const FIVE = ['a', 'b', 'c', 'd', 'e']

/** A joined cluster whose view has been stable for stableAfterMs. */
function stableCluster (ids: string[], config: Partial<MembershipConfig> = {}): Wire {
  const wire = new Wire(config)
  for (const id of ids) wire.add(id)
  wire.joinAll()
  wire.advance(wire.config.stableAfterMs + 100)
  return wire
}

function health (wire: Wire, id: string): Health {
  return wire.core(id).health()
}

function cause (wire: Wire, observer: string, about: string): FailureCause | undefined {
  return wire.core(observer).member(about)?.cause
}

function clusterEvents (wire: Wire, observer: string): string[] {
  return wire.clusterEvents.filter(e => e.observer === observer).map(e => `${e.event.type} ${e.event.side} [${e.event.members.join(',')}]`)
}

/** Drops every message between the two sides. */
function split (wire: Wire, left: string[]): void {
  const side = new Set(left)
  const dest = (m: SentMessage): string | undefined => m.to.id ?? m.to.addrs.map(a => a.replace('/memory/', ''))[0]
  wire.drop = m => {
    const to = dest(m)
    return to != null && side.has(m.from) !== side.has(to)
  }
}

function allFailed (wire: Wire, observers: string[], about: string[]): () => boolean {
  return () => observers.every(o => about.every(id => wire.status(o, id) === 'failed'))
}

describe('membership partition: side formula', () => {
  const table: Array<[componentSize: number, stableSize: number, side: Side]> = [
    [1, 0, 'unknown'], // no stable membership yet
    [1, 1, 'unknown'],
    [2, 2, 'unknown'], // too small to tell
    [1, 2, 'unknown'],
    [3, 3, 'majority'],
    [2, 3, 'majority'],
    [1, 3, 'minority'],
    [3, 5, 'majority'],
    [2, 5, 'minority'],
    [2, 4, 'unknown'], // exactly half
    [3, 4, 'majority'],
    [30, 50, 'majority'],
    [25, 50, 'unknown'],
    [20, 50, 'minority'],
    [60, 50, 'majority'] // members joined since the last stable membership
  ]
  for (const [componentSize, stableSize, side] of table) {
    it(`${componentSize} of ${stableSize} -> ${side}`, () => {
      assert.equal(sideOf(componentSize, stableSize), side)
    })
  }
})

describe('membership partition: last stable membership', () => {
  it('is unknown until the alive set has been unchanged for stableAfterMs, then covers everyone', () => {
    const wire = new Wire()
    for (const id of FIVE) wire.add(id)
    assert.deepEqual(health(wire, 'a'), { side: 'unknown', componentSize: 1, stableSize: 0 })
    wire.joinAll(1000)
    assert.equal(health(wire, 'a').componentSize, 5)
    assert.ok(wire.advanceUntil(() => FIVE.every(id => health(wire, id).stableSize === 5), wire.config.stableAfterMs + 1000))
    for (const id of FIVE) assert.deepEqual(health(wire, id), { side: 'majority', componentSize: 5, stableSize: 5 })
    assert.deepEqual(wire.clusterEvents, [])
  })

  it('grows with a joiner once the view settles again', () => {
    const wire = stableCluster(['a', 'b', 'c'])
    wire.add('d')
    wire.input('d', (core, now) => core.join(now, [{ addrs: [addrOf('a')] }]))
    wire.advance(500)
    assert.deepEqual(health(wire, 'a'), { side: 'majority', componentSize: 4, stableSize: 3 })
    wire.advance(wire.config.stableAfterMs + 500)
    assert.deepEqual(health(wire, 'a'), { side: 'majority', componentSize: 4, stableSize: 4 })
  })

  it('drops a member that left at once', () => {
    const wire = stableCluster(FIVE)
    wire.input('e', (core, now) => core.leave(now))
    wire.silent.add('e')
    assert.deepEqual(health(wire, 'a'), { side: 'majority', componentSize: 4, stableSize: 4 })
    assert.deepEqual(wire.clusterEvents, [])
  })

  it('drops a crashed (refusing) member at once: cause crash, no partition', () => {
    const wire = stableCluster(FIVE)
    wire.refusing.add('d')
    wire.refusing.add('e')
    assert.ok(wire.advanceUntil(allFailed(wire, ['a', 'b', 'c'], ['d', 'e']), 10_000))
    for (const o of ['a', 'b', 'c']) {
      assert.equal(cause(wire, o, 'd'), 'crash')
      assert.equal(cause(wire, o, 'e'), 'crash')
      assert.deepEqual(health(wire, o), { side: 'majority', componentSize: 3, stableSize: 3 })
    }
    assert.deepEqual(wire.clusterEvents, [])
  })

  it('keeps a silent member until partitionForgetMs, then settles without it', () => {
    const wire = stableCluster(FIVE, { partitionForgetMs: 60_000 })
    wire.silent.add('e')
    assert.ok(wire.advanceUntil(allFailed(wire, ['a', 'b', 'c', 'd'], ['e']), 30_000))
    const failedAt = wire.now
    assert.equal(cause(wire, 'a', 'e'), 'unreachable')
    assert.deepEqual(health(wire, 'a'), { side: 'majority', componentSize: 4, stableSize: 5 })
    wire.advance(60_000 - (wire.now - failedAt) - 1000)
    assert.equal(health(wire, 'a').stableSize, 5)
    wire.advance(2000)
    assert.deepEqual(health(wire, 'a'), { side: 'majority', componentSize: 4, stableSize: 4 })
    assert.deepEqual(wire.clusterEvents, [], 'a single silent member is no partition')
  })
})

describe('membership partition: causes of silent failures', () => {
  // What `a` records when `b` tells it that `d` is dead, with nothing else failed
  // or with `e` already failed for silence within partitionWindowMs.
  const table: Array<[incoming: FailureCause, otherSilentFailure: boolean, recorded: FailureCause]> = [
    ['unreachable', false, 'unreachable'],
    ['partition', false, 'unreachable'], // the sender's opinion; ours is a single silent failure
    ['crash', false, 'crash'], // positive evidence is kept
    ['left', false, 'left'],
    ['unreachable', true, 'partition'],
    ['partition', true, 'partition'],
    ['crash', true, 'crash']
  ]
  for (const [incoming, other, recorded] of table) {
    it(`dead(${incoming})${other ? ' after another silent failure' : ''} -> ${recorded}`, () => {
      const wire = stableCluster(FIVE)
      const a = wire.core('a')
      if (other) {
        a.receive(wire.now, 'b', { type: 'gossip', updates: [{ type: 'dead', id: 'e', incarnation: 0, from: 'b', cause: 'unreachable' }] })
        assert.equal(cause(wire, 'a', 'e'), 'unreachable')
        wire.now += 1000
      }
      const out = a.receive(wire.now, 'b', { type: 'gossip', updates: [{ type: 'dead', id: 'd', incarnation: 0, from: 'b', cause: incoming }] })
      assert.equal(wire.status('a', 'd'), 'failed')
      assert.equal(cause(wire, 'a', 'd'), recorded)
      if (other && recorded === 'partition') {
        assert.equal(cause(wire, 'a', 'e'), 'partition', 're-labelled with the group')
        const update = out.find(e => e.kind === 'event' && e.event.type === 'member:update')
        assert.ok(update?.kind === 'event' && update.event.member.id === 'e' && update.event.member.cause === 'partition')
        const detected = out.find(e => e.kind === 'cluster')
        assert.ok(detected?.kind === 'cluster')
        assert.deepEqual(detected.event, { type: 'partition:detected', side: 'majority', componentSize: 3, stableSize: 5, members: ['d', 'e'] })
      }
    })
  }

  it('silent failures further apart than partitionWindowMs stay unreachable', () => {
    const wire = stableCluster(FIVE)
    const a = wire.core('a')
    a.receive(wire.now, 'b', { type: 'gossip', updates: [{ type: 'dead', id: 'e', incarnation: 0, from: 'b', cause: 'unreachable' }] })
    wire.now += wire.config.partitionWindowMs + 1
    a.receive(wire.now, 'b', { type: 'gossip', updates: [{ type: 'dead', id: 'd', incarnation: 0, from: 'b', cause: 'partition' }] })
    assert.equal(cause(wire, 'a', 'd'), 'unreachable')
    assert.equal(cause(wire, 'a', 'e'), 'unreachable')
  })

  it('on the minority side a single silent failure is a partition, and the recent unreachable ones are re-labelled', () => {
    const wire = stableCluster(FIVE, { partitionGroupMin: 10 })
    const a = wire.core('a')
    const out: Effect[] = []
    const dead = (id: string): void => {
      out.push(...a.receive(wire.now, 'b', { type: 'gossip', updates: [{ type: 'dead', id, incarnation: 0, from: 'b', cause: 'unreachable' }] }))
    }
    dead('e')
    dead('d')
    assert.equal(cause(wire, 'a', 'd'), 'unreachable', 'no group: partitionGroupMin is 10')
    assert.equal(health(wire, 'a').side, 'majority')
    dead('c') // a sees 2 of 5: minority
    assert.deepEqual(health(wire, 'a'), { side: 'minority', componentSize: 2, stableSize: 5 })
    for (const id of ['c', 'd', 'e']) assert.equal(cause(wire, 'a', id), 'partition', id)
    const updated = out.flatMap(e => e.kind === 'event' && e.event.type === 'member:update' ? [e.event.member.id] : [])
    assert.deepEqual(updated.sort(), ['d', 'e'])
    const cluster = out.flatMap(e => e.kind === 'cluster' ? [e.event] : [])
    assert.deepEqual(cluster, [{ type: 'partition:detected', side: 'minority', componentSize: 2, stableSize: 5, members: ['c', 'd', 'e'] }])
  })
})

describe('membership partition: a 2|3 split and its healing', () => {
  it('both sides mark the other partition, minority and majority; after healing all alive, healed, majority', () => {
    const wire = stableCluster(FIVE)
    const minority = ['a', 'b']
    const majority = ['c', 'd', 'e']
    split(wire, minority)
    assert.ok(wire.advanceUntil(() => allFailed(wire, minority, majority)() && allFailed(wire, majority, minority)(), 60_000))
    wire.advance(wire.config.stableAfterMs + 100)
    for (const o of minority) {
      for (const id of majority) assert.equal(cause(wire, o, id), 'partition', `${o} on ${id}`)
      assert.deepEqual(health(wire, o), { side: 'minority', componentSize: 2, stableSize: 5 })
      const events = clusterEvents(wire, o)
      assert.equal(events[0].startsWith('partition:detected'), true, events.join('; '))
      assert.ok(events.includes('partition:detected minority [c,d,e]'), events.join('; '))
    }
    for (const o of majority) {
      for (const id of minority) assert.equal(cause(wire, o, id), 'partition', `${o} on ${id}`)
      assert.deepEqual(health(wire, o), { side: 'majority', componentSize: 3, stableSize: 5 })
      assert.deepEqual(clusterEvents(wire, o), ['partition:detected majority [a,b]'])
    }

    wire.drop = () => false
    assert.ok(wire.advanceUntil(() => FIVE.every(o => FIVE.every(id => wire.status(o, id) === 'alive')), 30_000), 'healed')
    for (const o of FIVE) {
      assert.deepEqual(health(wire, o), { side: 'majority', componentSize: 5, stableSize: 5 })
      const events = clusterEvents(wire, o)
      assert.equal(events.at(-1), `partition:healed majority [${(minority.includes(o) ? majority : minority).join(',')}]`, `${o}: ${events.join('; ')}`)
    }
  })

  it('a split before the view settled is measured against every member seen alive, not one side', () => {
    // Regression: members that were alive but never sat through a quiet stableAfterMs
    // window (late joiners, startup suspect flaps) were left out of S; a partition then
    // rebuilt S from one side only (stableSize 3 everywhere, the minority "majority").
    const wire = new Wire()
    for (const id of FIVE) wire.add(id)
    wire.joinAll(1000)
    for (const o of FIVE) assert.deepEqual(health(wire, o), { side: 'unknown', componentSize: 5, stableSize: 0 }, o)
    const minority = ['a', 'b']
    const majority = ['c', 'd', 'e']
    split(wire, minority)
    assert.ok(wire.advanceUntil(() => allFailed(wire, minority, majority)() && allFailed(wire, majority, minority)(), 60_000))
    wire.advance(wire.config.stableAfterMs + 100)
    for (const o of minority) assert.deepEqual(health(wire, o), { side: 'minority', componentSize: 2, stableSize: 5 }, o)
    for (const o of majority) assert.deepEqual(health(wire, o), { side: 'majority', componentSize: 3, stableSize: 5 }, o)
    wire.advance(20_000)
    for (const o of minority) assert.deepEqual(health(wire, o), { side: 'minority', componentSize: 2, stableSize: 5 }, o)
    for (const o of majority) assert.deepEqual(health(wire, o), { side: 'majority', componentSize: 3, stableSize: 5 }, o)
  })

  it('after partitionForgetMs the split is accepted: the episode ends and each side settles on itself', () => {
    const wire = stableCluster(FIVE, { partitionForgetMs: 60_000 })
    split(wire, ['a', 'b'])
    assert.ok(wire.advanceUntil(() => allFailed(wire, ['a', 'b'], ['c', 'd', 'e'])() && allFailed(wire, ['c', 'd', 'e'], ['a', 'b'])(), 60_000))
    wire.advance(70_000)
    assert.deepEqual(health(wire, 'a'), { side: 'unknown', componentSize: 2, stableSize: 2 })
    assert.deepEqual(health(wire, 'c'), { side: 'majority', componentSize: 3, stableSize: 3 })
    assert.equal(clusterEvents(wire, 'c').at(-1), 'partition:healed majority [a,b]')
    assert.equal(clusterEvents(wire, 'a').at(-1), 'partition:healed unknown [c,d,e]')
  })
})
