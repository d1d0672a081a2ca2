/**
 * A request for this node's full state (a sync asking a reply, a digest that
 * differs from its view) costs the requester a few bytes and this node an
 * entry per member (membership/sync-answers.ts). Answers go to one member at
 * most once per syncAnswerGapMs, requests within the gap answered once at its
 * end; and to all together at most syncAnswerMembersPerSecond entries a
 * second, past which requests are declined (and asked again later).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Effect, MemberId, Message } from '../../membership/index.ts'
import { Wire } from './membership-harness.ts'

const IDS = ['a', 'b', 'c', 'd']
const SYNC_REQUEST: Message = { type: 'sync', reply: true, join: false, members: [] }
const OTHER_VIEW: Message = { type: 'digest', members: 1, hash: 0 }

/** A cluster of four; only `a` runs from here, so that what it sends goes nowhere. */
function cluster (config: ConstructorParameters<typeof Wire>[0]): Wire {
  const wire = new Wire(config)
  for (const id of IDS) wire.add(id)
  wire.joinAll()
  for (const id of IDS) if (id !== 'a') wire.silent.add(id)
  return wire
}

function fullStatesTo (effects: Effect[], to: MemberId): number {
  return effects.filter(e => e.kind === 'send' && e.to.id === to && e.msg.type === 'sync').length
}

/** `from` asks `a` for its full state `times` times at once; how many answers went out. */
function ask (wire: Wire, from: MemberId, msg: Message, times: number): number {
  let answers = 0
  for (let i = 0; i < times; i++) answers += fullStatesTo(wire.input('a', (core, now) => core.receive(now, from, msg)), from)
  return answers
}

describe('membership core: answering requests for the full state', () => {
  it('answers one member at most once per syncAnswerGapMs: requests within the gap get one answer at its end, syncs and digests alike', () => {
    const wire = cluster({ syncAnswerGapMs: 250 })
    const a = wire.core('a')
    assert.equal(ask(wire, 'b', SYNC_REQUEST, 5), 1)
    assert.equal(ask(wire, 'b', OTHER_VIEW, 3), 0, 'a digest within the gap waits too')
    assert.equal(ask(wire, 'c', OTHER_VIEW, 3), 1, 'another member has its own gap')
    assert.equal(a.stats().syncsDeferred, 4 + 3 + 2)
    const sentBefore = wire.sent.length
    wire.advance(250)
    const later = wire.sent.slice(sentBefore).filter(s => s.from === 'a' && s.msg.type === 'sync')
    assert.deepEqual(later.map(s => [s.to.id, (s.msg as Extract<Message, { type: 'sync' }>).reply]), [['b', true], ['c', true]],
      'one answer each at the gap\'s end, asking back as the digests did')
    assert.equal(a.stats().syncsDeclined, 0)
    assert.equal(ask(wire, 'b', SYNC_REQUEST, 1), 0, 'the deferred answer started a new gap')
  })

  it('answers all members together within syncAnswerMembersPerSecond entries a second (each answer costs the view\'s size)', () => {
    // A view of four: each answer costs 4 of the 10 a second; one goes out while any is left.
    const wire = cluster({ syncAnswerGapMs: 0, syncAnswerMembersPerSecond: 10 })
    assert.equal(ask(wire, 'b', SYNC_REQUEST, 2) + ask(wire, 'c', SYNC_REQUEST, 2) + ask(wire, 'd', SYNC_REQUEST, 2), 3)
    wire.advance(1000)
    assert.equal(ask(wire, 'b', SYNC_REQUEST, 3) + ask(wire, 'c', SYNC_REQUEST, 3), 2, 'a second later: the second\'s allowance less the debt')
  })

  it('with both bounds off answers every request', () => {
    const wire = cluster({ syncAnswerGapMs: 0, syncAnswerMembersPerSecond: 0 })
    assert.equal(ask(wire, 'b', SYNC_REQUEST, 20), 20)
    assert.equal(wire.core('a').stats().syncsDeclined, 0)
  })
})
