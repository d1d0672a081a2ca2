/**
 * A member that comes back after a partition gets the user events it missed
 * from one exchange, started by either side, without waiting for the random
 * anti-entropy rounds (agent/user-events.ts, agent/operator.ts).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { ANTI_ENTROPY_MS, PULL_AFTER_RETURN_MS, UserEvents, type UserEventView } from '../../agent/user-events.ts'
import { followReturns } from '../../agent/operator.ts'
import type { OperatorMessage, WireMessage } from '../../gossip/index.ts'

/** The peer id of agent `a` or `b` of a pair. */
const idOf = (self: 'a' | 'b'): string => `peer-${self.repeat(12)}`

/** Two agents whose direct sends arrive at once unless `net.lost`; topic publishes are lost (the partition). */
function pair (): { a: UserEvents, b: UserEvents, got: Record<'a' | 'b', UserEventView[]>, sent: () => number, net: { lost: boolean, now: number }, stop: () => void } {
  const got: Record<'a' | 'b', UserEventView[]> = { a: [], b: [] }
  const agents: Record<string, UserEvents> = {}
  let sent = 0
  const net = { lost: false, now: 1000 }
  const make = (self: 'a' | 'b'): UserEvents => new UserEvents({
    selfId: idOf(self),
    transport: {
      publish: () => {},
      send: (to: string, msg: WireMessage) => { sent++; if (!net.lost) agents[to].receive(idOf(self), msg as OperatorMessage) }
    },
    clock: () => net.now,
    alivePeers: () => [idOf(self === 'a' ? 'b' : 'a')],
    deliver: (e) => { got[self].push(e) },
    warn: (m) => { throw new Error(m) }
  })
  const a = make('a')
  const b = make('b')
  agents[idOf('a')] = a
  agents[idOf('b')] = b
  return { a, b, got, sent: () => sent, net, stop: () => { a.stop(); b.stop() } }
}

describe('user events when a member comes back', () => {
  it('the side without events pulls them from the one that returned, and the other way round', () => {
    const p = pair()
    p.a.fire('during', 'split', false)
    p.b.memberReturned(idOf('a'))
    assert.deepEqual(p.got.b.map(e => e.payload), ['split'], 'b had nothing to offer, and still got it')

    const q = pair()
    q.a.fire('during', 'split', false)
    q.a.memberReturned(idOf('b'))
    assert.deepEqual(q.got.b.map(e => e.payload), ['split'], 'pushed by the side that has it')
    assert.deepEqual(q.got.a.map(e => e.payload), ['split'], 'delivered once where it was fired')
    p.stop()
    q.stop()
  })

  it('many members coming back at once cost one exchange per anti-entropy interval', () => {
    const p = pair()
    p.b.memberReturned(idOf('a'))
    p.b.memberReturned(idOf('a'))
    assert.equal(p.sent(), 1, 'the second return within the interval sends nothing (and a has nothing to answer)')
    p.stop()
  })

  it('when that exchange is lost, the next rounds pull, for a while', () => {
    const p = pair()
    p.a.fire('during', 'split', false)
    p.net.lost = true
    p.b.memberReturned(idOf('a'))
    p.net.lost = false
    p.net.now += ANTI_ENTROPY_MS
    p.b.antiEntropyRound()
    assert.deepEqual(p.got.b.map(e => e.payload), ['split'], 'pulled by b\'s next round, although b had no events')

    const q = pair()
    q.b.memberReturned(idOf('a'))
    const before = q.sent()
    q.net.now += PULL_AFTER_RETURN_MS
    q.b.antiEntropyRound()
    assert.equal(q.sent(), before, 'an agent with no events is quiet again once the pulling time is over')
    p.stop()
    q.stop()
  })

  it('only a member seen failed or gone counts as returning; a new member or a refuted suspicion does not', () => {
    const bus = new EventEmitter()
    const returned: string[] = []
    followReturns((type, listener) => bus.on(type, listener), peer => { returned.push(peer) })
    bus.emit('member:join', { peerId: 'new' })
    bus.emit('member:suspect', { peerId: 'x' })
    bus.emit('member:alive', { peerId: 'x' })
    bus.emit('member:failed', { peerId: 'y' })
    bus.emit('member:alive', { peerId: 'y' })
    bus.emit('member:alive', { peerId: 'y' })
    bus.emit('member:leave', { peerId: 'z' })
    bus.emit('member:join', { peerId: 'z' })
    bus.emit('member:failed', { peerId: 'reaped' })
    bus.emit('member:reap', { peerId: 'reaped' })
    bus.emit('member:join', { peerId: 'reaped' })
    assert.deepEqual(returned, ['y', 'z'])
  })
})
