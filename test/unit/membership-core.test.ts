import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Effect, Message, Update } from '../../membership/index.ts'
import { addrOf, ringOf, Wire } from './membership-harness.ts'

function cluster (ids: string[], config = {}): Wire {
  const wire = new Wire(config)
  for (const id of ids) wire.add(id)
  wire.joinAll()
  return wire
}

function statuses (wire: Wire, observer: string): Record<string, string> {
  return Object.fromEntries(wire.core(observer).members().map(m => [m.id, m.status]))
}

describe('membership core: join and sync', () => {
  it('a joiner and its seed learn each other, with member:join on both sides, and the join stops retrying', () => {
    const wire = new Wire()
    wire.add('a')
    const b = wire.add('b')
    const effects = wire.input('b', (core, now) => core.join(now, [{ addrs: [addrOf('a')] }]))
    assert.equal(effects.length, 1)
    const first = effects[0]
    assert.ok(first.kind === 'send' && first.msg.type === 'sync')
    assert.deepEqual(first.to, { addrs: [addrOf('a')] })
    assert.equal(first.msg.reply, true)
    assert.equal(first.msg.join, true)
    assert.deepEqual(first.msg.members.map(m => m.id), ['b'], 'the sync state includes self')

    assert.deepEqual(statuses(wire, 'a'), { a: 'alive', b: 'alive' })
    assert.deepEqual(statuses(wire, 'b'), { a: 'alive', b: 'alive' })
    assert.equal(wire.eventsOf('a', 'member:join', 'b').length, 1)
    assert.equal(wire.eventsOf('b', 'member:join', 'a').length, 1)
    assert.equal(wire.eventsOf('a', undefined, 'a').length, 0, 'no events about self')

    wire.advance(5000)
    const joins = wire.sent.filter(s => s.from === 'b' && s.msg.type === 'sync' && s.msg.join)
    assert.equal(joins.length, 1, 'no join retry after the answer')
  })

  it('retries an unanswered join after joinRetryIntervalMs, then twice as long each time, until a seed answers', () => {
    const wire = new Wire()
    wire.add('a')
    const b = wire.add('b')
    wire.silent.add('a')
    wire.input('b', (core, now) => core.join(now, [{ id: 'a', addrs: [addrOf('a')] }]))
    const joins = (): number => wire.sent.filter(s => s.from === 'b' && s.msg.type === 'sync' && s.msg.join).length
    // Sent at 0, retried at 1000, then at 3000 and 7000.
    wire.advance(2500)
    assert.equal(joins(), 2)
    wire.advance(2500)
    assert.equal(joins(), 3)
    wire.silent.delete('a')
    wire.advance(3000)
    assert.equal(joins(), 4)
    assert.equal(wire.status('b', 'a'), 'alive')
    wire.advance(10_000)
    assert.equal(joins(), 4)
    assert.ok(b.stats().syncsSent >= 4)
  })

  it('a join refused by its seed is retried 100 ms later; one that timed out waits its unanswered schedule', () => {
    const joinOf = (effects: Effect[]): Effect | undefined => effects.find(e => e.kind === 'send' && e.msg.type === 'sync' && e.msg.join)
    for (const [reason, retryBy] of [['refused', 110], ['timeout', 1000]] as const) {
      const wire = new Wire()
      const b = wire.add('b')
      const join = joinOf(b.join(0, [{ addrs: [addrOf('a')] }]))
      assert.ok(join?.kind === 'send')
      b.deliveryFailed(10, join.to, join.msg, reason)
      assert.equal(b.nextDeadline() <= retryBy, true, `${reason}: next deadline ${b.nextDeadline()}`)
      if (reason === 'timeout') assert.equal(joinOf(b.tick(500)), undefined, 'no early retry after a timeout')
      assert.ok(joinOf(b.tick(retryBy)) != null, `${reason}: retried by ${retryBy} ms`)
    }
  })

  it('reports its join: each undelivered join with the seed, the reason and when it goes again; then the seed that answered', () => {
    const wire = new Wire()
    wire.add('a')
    const b = wire.add('b')
    wire.refusing.add('a')
    wire.input('b', (core, now) => core.join(now, [{ addrs: [addrOf('a')] }]))
    wire.advance(350)
    const failed = wire.joinEvents.filter(e => e.observer === 'b' && e.event.type === 'join:failed').map(e => e.event)
    assert.ok(failed.length >= 2, `join failures reported: ${failed.length}`)
    assert.deepEqual(failed[0], { type: 'join:failed', seed: { addrs: [addrOf('a')] }, reason: 'refused', retryInMs: 100 })
    assert.equal(failed[1].type === 'join:failed' && failed[1].retryInMs, 200, 'backing off')
    assert.equal(wire.joinEvents.some(e => e.event.type === 'join:done'), false)
    wire.refusing.delete('a')
    wire.advance(2000)
    assert.deepEqual(wire.joinEvents.filter(e => e.event.type === 'join:done').map(e => [e.observer, e.event]), [['b', { type: 'join:done', via: 'a' }]])
    assert.equal(b.members().length, 2)
  })

  it('a three-node cluster converges through gossip from a single seed', () => {
    const wire = cluster(['a', 'b', 'c', 'd'])
    for (const id of ['a', 'b', 'c', 'd']) {
      assert.deepEqual(statuses(wire, id), { a: 'alive', b: 'alive', c: 'alive', d: 'alive' }, `view of ${id}`)
    }
  })

  it('members() is sorted by name then id and includes self', () => {
    const wire = cluster(['c', 'a', 'b'])
    assert.deepEqual(wire.core('c').members().map(m => m.id), ['a', 'b', 'c'])
    assert.equal(wire.core('c').self.status, 'alive')
  })
})

describe('membership core: probing', () => {
  it('a probe answered by an ack changes nothing and keeps local health at 0', () => {
    const wire = cluster(['a', 'b'])
    wire.advance(10_000)
    const a = wire.core('a')
    assert.ok(a.stats().probesSent >= 8, `probes sent: ${a.stats().probesSent}`)
    assert.equal(a.stats().probeFailures, 0)
    assert.equal(a.stats().indirectProbesSent, 0)
    assert.equal(a.stats().localHealth, 0)
    assert.equal(wire.events.filter(e => e.event.type !== 'member:join').length, 0)
  })

  it('timeout -> ping-req through others -> nacks -> suspect -> failed (unreachable), seen everywhere', () => {
    const wire = cluster(['a', 'b', 'c', 'd'])
    wire.silent.add('d')
    const start = wire.now
    assert.ok(wire.advanceUntil(() => wire.status('a', 'd') === 'suspect' || wire.status('a', 'd') === 'failed', 10_000))
    const pingReqs = wire.sent.filter(s => s.at >= start && s.msg.type === 'ping-req' && s.msg.target === 'd')
    assert.ok(pingReqs.length >= 2, 'indirect probes through the other alive members')
    assert.ok(wire.sent.some(s => s.at >= start && s.msg.type === 'nack'), 'intermediaries nack')
    assert.ok(wire.pathFailures.some(p => p.observer === 'a' && p.id === 'd'), 'the prober asks its transport for another path')
    assert.ok(wire.pathFailures.some(p => p.observer !== 'a' && p.id === 'd'), 'so does an intermediary whose relayed ping went unanswered')
    assert.ok(wire.advanceUntil(() => ['a', 'b', 'c'].every(id => wire.status(id, 'd') === 'failed'), 60_000))
    for (const id of ['a', 'b', 'c']) {
      assert.equal(wire.core(id).member('d')?.cause, 'unreachable')
      const types = wire.eventsOf(id, undefined, 'd').map(e => e.type)
      assert.deepEqual(types.slice(-2), ['member:suspect', 'member:failed'], `${id}: ${types.join(',')}`)
    }
    assert.equal(wire.core('a').stats().localHealth, 0, 'nacks arrived: not our fault')
  })

  it('without anyone to ask, a failed probe raises local health and scales the probe interval', () => {
    const wire = cluster(['a', 'b'])
    wire.silent.add('b')
    assert.ok(wire.advanceUntil(() => wire.core('a').stats().probeFailures > 0, 5000))
    const a = wire.core('a')
    assert.equal(a.stats().localHealth, 1)
    assert.equal(a.stats().suspicionsRaised, 1)
  })

  it('refused connection: suspect at once (crash), failed after refusedSuspicionTimeoutMs, cause crash everywhere', () => {
    const wire = cluster(['a', 'b', 'c'])
    wire.refusing.add('c')
    const t0 = wire.now
    wire.input('a', (core, now) => core.peerDisconnected(now, 'c'))
    assert.equal(wire.status('a', 'c'), 'suspect')
    assert.equal(wire.core('a').member('c')?.cause, 'crash')
    assert.ok(wire.sent.some(s => s.at === t0 && s.from === 'a' && s.msg.type === 'ping-req'), 'ping-reqs still go out')
    assert.ok(wire.advanceUntil(() => wire.status('a', 'c') === 'failed', 2000))
    assert.ok(wire.now - t0 <= 500 + 20, `failed after ${wire.now - t0} ms`)
    assert.equal(wire.core('a').member('c')?.cause, 'crash')
    assert.ok(wire.advanceUntil(() => wire.status('b', 'c') === 'failed', 2000))
    assert.equal(wire.core('b').member('c')?.cause, 'crash')
  })

  it('a nack saying the intermediary was refused is crash evidence too', () => {
    const wire = cluster(['a', 'b', 'c'])
    wire.refusing.add('c')
    // a's own ping is lost on the way; b's relayed ping is refused.
    wire.drop = m => m.from === 'a' && m.msg.type === 'ping' && m.msg.target === 'c'
    const t0 = wire.now
    wire.input('a', (core, now) => core.peerDisconnected(now, 'c'))
    assert.equal(wire.status('a', 'c'), 'alive')
    assert.ok(wire.advanceUntil(() => wire.status('a', 'c') === 'suspect', 1000, 1))
    assert.ok(wire.sent.some(s => s.from === 'b' && s.msg.type === 'nack' && s.msg.reason === 'refused'))
    assert.equal(wire.core('a').member('c')?.cause, 'crash')
    assert.ok(wire.advanceUntil(() => wire.status('a', 'c') === 'failed', 2000))
    assert.ok(wire.now - t0 <= 500 + 500 + 20, `failed after ${wire.now - t0} ms`)
    assert.equal(wire.core('a').member('c')?.cause, 'crash')
  })

  it('refused direct ping but an ack through an intermediary withdraws the suspicion', () => {
    const wire = cluster(['a', 'b', 'c'])
    const a = wire.core('a')
    // Take a's direct ping to c without delivering it, and report it refused (a stale address).
    const probe = a.peerDisconnected(wire.now, 'c')
    const ping = probe[0]
    assert.ok(ping.kind === 'send' && ping.msg.type === 'ping')
    assert.deepEqual(a.peerDisconnected(wire.now, 'c'), [], 'no second probe while one is in flight')
    const effects = a.deliveryFailed(wire.now, ping.to, ping.msg, 'refused')
    assert.equal(wire.status('a', 'c'), 'suspect')
    assert.ok(effects.some(e => e.kind === 'send' && e.msg.type === 'ping-req' && e.to.id === 'b'))
    wire.perform('a', effects) // b pings c, c acks, b relays the ack to a
    assert.deepEqual(wire.eventsOf('a', undefined, 'c').map(e => e.type), ['member:join', 'member:suspect', 'member:alive'])
    assert.equal(wire.status('a', 'c'), 'alive')
    wire.advance(30_000)
    assert.equal(wire.status('a', 'c'), 'alive')
    assert.equal(wire.status('b', 'c'), 'alive')
    assert.equal(wire.core('c').self.status, 'alive')
  })

  it('peerDisconnected of an alive member probes it at once', () => {
    const wire = cluster(['a', 'b', 'c'])
    const effects = wire.input('a', (core, now) => core.peerDisconnected(now, 'b'))
    assert.equal(effects.length, 1)
    const e = effects[0]
    assert.ok(e.kind === 'send' && e.msg.type === 'ping' && e.msg.target === 'b')
    assert.deepEqual(wire.input('a', (core, now) => core.peerDisconnected(now, 'zzz')), [])
  })
})

describe('membership core: suspicion and refutation', () => {
  it('a suspected node refutes with a higher incarnation and is alive again everywhere', () => {
    const wire = cluster(['a', 'b', 'c'])
    const accusation: Message = { type: 'gossip', updates: [{ type: 'suspect', id: 'c', incarnation: 0, from: 'b' }] }
    wire.drop = m => m.to.id === 'c' // c hears nothing for now
    wire.input('b', (core, now) => core.receive(now, 'b2', accusation))
    wire.input('a', (core, now) => core.receive(now, 'b', accusation))
    assert.equal(wire.status('a', 'c'), 'suspect')
    wire.drop = () => false
    assert.ok(wire.advanceUntil(() => wire.status('a', 'c') === 'alive' && wire.status('b', 'c') === 'alive', 5000))
    const c = wire.core('c')
    assert.equal(c.self.incarnation, 1)
    assert.equal(c.stats().refutations, 1)
    assert.equal(c.stats().localHealth, 1, 'refuting raises local health')
    assert.deepEqual(wire.eventsOf('a', undefined, 'c').map(e => e.type), ['member:join', 'member:suspect', 'member:alive'])
    assert.equal(wire.core('a').member('c')?.incarnation, 1)
  })

  it('buddy system: a ping to a suspect member carries the suspicion first', () => {
    const wire = cluster(['a', 'b', 'c'])
    wire.drop = m => m.to.id === 'c' || m.from === 'c'
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [{ type: 'suspect', id: 'c', incarnation: 0, from: 'b' }] }))
    const from = wire.sent.length
    // Its round-robin turn comes within a few probe intervals.
    assert.ok(wire.advanceUntil(() => wire.sent.slice(from).some(s => s.from === 'a' && s.msg.type === 'ping' && s.msg.target === 'c'), 5000))
    const ping = wire.sent.slice(from).find(s => s.from === 'a' && s.msg.type === 'ping' && s.msg.target === 'c')!
    assert.ok(ping.msg.type === 'ping')
    assert.deepEqual(ping.msg.updates[0], { type: 'suspect', id: 'c', incarnation: 0, from: 'a' })
    // Out of turn too, when the connection closes (once no probe of it is in flight).
    const lastPing = (): number => wire.sent.findLast(s => s.from === 'a' && s.msg.type === 'ping' && s.msg.target === 'c')?.at ?? 0
    assert.ok(wire.advanceUntil(() => wire.now - lastPing() > 1000, 10_000, 50))
    assert.equal(wire.status('a', 'c'), 'suspect')
    const effects = wire.core('a').peerDisconnected(wire.now, 'c')
    const again = effects.find(e => e.kind === 'send' && e.msg.type === 'ping')
    assert.ok(again?.kind === 'send' && again.msg.type === 'ping')
    assert.deepEqual(again.msg.updates[0], { type: 'suspect', id: 'c', incarnation: 0, from: 'a' })
  })

  it('a message from a member we hold suspect or failed is answered with our accusation', () => {
    const wire = cluster(['a', 'b', 'c'])
    wire.drop = m => m.to.id === 'c'
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [{ type: 'dead', id: 'c', incarnation: 0, from: 'b', cause: 'unreachable' }] }))
    assert.equal(wire.status('a', 'c'), 'failed')
    const effects = wire.core('a').receive(wire.now, 'c', { type: 'gossip', updates: [] })
    const told = effects.find(e => e.kind === 'send' && e.to.id === 'c')
    assert.ok(told?.kind === 'send' && told.msg.type === 'gossip')
    assert.deepEqual(told.msg.updates, [{ type: 'dead', id: 'c', incarnation: 0, from: 'a', cause: 'unreachable' }])
    wire.drop = () => false
    wire.perform('a', effects)
    assert.ok(wire.advanceUntil(() => wire.status('a', 'c') === 'alive' && wire.status('b', 'c') === 'alive', 3000))
    assert.deepEqual(wire.eventsOf('a', undefined, 'c').map(e => e.type), ['member:join', 'member:failed', 'member:alive'])
  })

  it('independent confirmations shorten the suspicion timeout (Lifeguard)', () => {
    // n = 6: min = 4000 ms (log10(6) < 1), max = 6 * min = 24000 ms, k = 2 confirmations expected.
    const failedAfter = (accusers: string[]): number => {
      // Local health off: this test is about confirmations alone.
      const wire = cluster(['a', 'b', 'c', 'd', 'e', 'f'], { awarenessMaxMultiplier: 1 })
      for (const id of ['b', 'c', 'd', 'e', 'f']) wire.silent.add(id)
      const t0 = wire.now
      for (const from of accusers) {
        wire.input('a', (core, now) => core.receive(now, from, { type: 'gossip', updates: [{ type: 'suspect', id: 'f', incarnation: 0, from }] }))
      }
      assert.ok(wire.advanceUntil(() => wire.status('a', 'f') === 'failed', 30_000))
      return wire.eventsOf('a', 'member:failed', 'f').length === 1 ? wire.events.find(e => e.event.type === 'member:failed' && e.event.member.id === 'f')!.at - t0 : -1
    }
    const confirmed = failedAfter(['b', 'c', 'd'])
    const unconfirmed = failedAfter(['b'])
    assert.ok(confirmed >= 4000 && confirmed <= 4010, `with 2 confirmations: ${confirmed} ms`)
    // Only a's own failed probe of f can confirm: 24000 - 20000 * log(2) / log(3) = 11381 ms at best.
    assert.ok(unconfirmed >= 11_381, `with at most one confirmation: ${unconfirmed} ms`)
  })
  it('each member whose push-pull holds a member failed confirms the suspicion that starts (a partition\'s late learner)', () => {
    // n = 6 as above: min 4000 ms, max 24000 ms, k = 2.
    const failedAfterSyncs = (senders: string[]): number => {
      const wire = cluster(['a', 'b', 'c', 'd', 'e', 'f'], { awarenessMaxMultiplier: 1 })
      for (const id of ['b', 'c', 'd', 'e', 'f']) wire.silent.add(id)
      const f = wire.core('a').members().find(m => m.id === 'f')!
      const t0 = wire.now
      for (const from of senders) {
        const entry = { id: 'f', name: f.name, addrs: [...f.addrs], tags: {}, incarnation: 0, bootId: f.bootId, status: 'failed' as const }
        wire.input('a', (core, now) => core.receive(now, from, { type: 'sync', reply: false, join: false, members: [entry] }))
      }
      assert.equal(wire.status('a', 'f'), 'suspect', 'a verdict in a push-pull starts a suspicion, it does not fail the member')
      assert.ok(wire.advanceUntil(() => wire.status('a', 'f') === 'failed', 30_000))
      return wire.now - t0
    }
    const three = failedAfterSyncs(['b', 'c', 'd'])
    assert.ok(three >= 4000 && three <= 4010, `confirmed by two senders beyond the first: ${three} ms`)
    const one = failedAfterSyncs(['b'])
    // One confirmation (b), maybe a second from a's own failed probe: 24000 - 20000 * log(3) / log(3) = 4000 at best, 11381 with one.
    assert.ok(one >= 4000 && one <= 11_381 + 10, `confirmed by its sender: ${one} ms, not the 24000 ms of none`)
  })

  it('a node cut off from everyone (missed nacks, timers on time) fails a suspect within the maximum timeout: poor health alone does not stretch it', () => {
    // n = 6: max = 24000 ms. Stretching by health (up to 7 × 4000 ms) would push it far past that,
    // and a minority side of a partition would take that much longer to see the other side failed.
    const wire = cluster(['a', 'b', 'c', 'd', 'e', 'f'])
    for (const id of ['b', 'c', 'd', 'e', 'f']) wire.silent.add(id)
    const t0 = wire.now
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [{ type: 'suspect', id: 'f', incarnation: 0, from: 'b' }] }))
    assert.ok(wire.advanceUntil(() => wire.status('a', 'f') === 'failed', 24_010))
    assert.ok(wire.now - t0 <= 24_010, `failed after ${wire.now - t0} ms`)
    assert.ok(wire.core('a').stats().localHealth > 0, 'missed nacks did lower its local health')
  })

  it('a starved node (late timers) gives a suspect it accuses extra time before failing it', () => {
    const wire = cluster(['a', 'b', 'c', 'd', 'e', 'f'])
    for (const id of ['b', 'c', 'd', 'e', 'f']) wire.silent.add(id)
    const t0 = wire.now
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [{ type: 'suspect', id: 'f', incarnation: 0, from: 'b' }] }))
    // Every timer runs late by more than a probe timeout but less than a probe
    // interval (a CPU-starved process, not a stopped one).
    const lateMs = wire.config.probeTimeoutMs + 100
    assert.ok(lateMs < wire.config.probeIntervalMs)
    while (wire.status('a', 'f') !== 'failed' && wire.now - t0 < 120_000) {
      wire.now = wire.core('a').nextDeadline() + lateMs
      wire.input('a', (core, now) => core.tick(now))
    }
    assert.equal(wire.status('a', 'f'), 'failed')
    assert.ok(wire.now - t0 > 24_000 + 4000, `a starved accuser waited only ${wire.now - t0} ms`)
  })

  it('nacks from indirect probers count as confirmations: the prober fails the member after the minimum timeout', () => {
    // n = 6: min 4000 ms, k = 2. Three intermediaries nack: the suspicion is fully confirmed at once.
    const ids = ['a', 'b', 'c', 'd', 'e', 'f']
    const wire = cluster(ids)
    wire.silent.add('f')
    // The accuser: one of the four members that probe f (its predecessors on the ring).
    const a = ids.find(id => id !== 'f' && ringOf(id, ids).successors(4).includes('f'))!
    // Others' own accusations of f never reach a: only a's probe and its witnesses can count.
    const accusesF = (m: { msg: Message }): boolean => 'updates' in m.msg &&
      m.msg.updates.some(u => u.id === 'f' && (u.type === 'suspect' || u.type === 'dead') && u.from !== a)
    wire.drop = m => m.to.id === a && accusesF(m)
    assert.ok(wire.advanceUntil(() => wire.status(a, 'f') === 'suspect', 30_000))
    const suspectedAt = wire.now
    assert.ok(wire.sent.some(s => s.msg.type === 'nack'), 'intermediaries nacked')
    assert.ok(wire.advanceUntil(() => wire.status(a, 'f') === 'failed', 30_000))
    const took = wire.now - suspectedAt
    assert.ok(took <= 4000 + 50, `failed ${took} ms after the suspicion (minimum timeout 4000 ms)`)
  })
})

describe('membership core: dissemination', () => {
  it('a member that learns a verdict passes it on within a quarter gossip interval, though its queue holds the suspicion before it', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
    const wire = cluster(ids)
    wire.refusing.add('h')
    const t0 = wire.now
    wire.input('a', (core, now) => core.peerDisconnected(now, 'h'))
    assert.ok(wire.advanceUntil(() => ids.slice(0, -1).every(id => wire.status(id, 'h') === 'failed'), 5000))
    const carriesVerdict = (m: { msg: Message }): boolean => 'updates' in m.msg && (m.msg.updates as Update[]).some(u => u.type === 'dead' && u.id === 'h')
    const late: string[] = []
    for (const id of ids.slice(1, -1)) {
      const heard = wire.sent.find(m => m.at >= t0 && m.to.id === id && carriesVerdict(m))
      const told = wire.sent.find(m => m.at >= (heard?.at ?? Infinity) && m.from === id && carriesVerdict(m))
      assert.ok(heard != null && told != null, `${id} heard the verdict and passed it on`)
      if (told.at - heard.at > wire.config.gossipIntervalMs / 4) late.push(`${id} after ${told.at - heard.at} ms`)
    }
    assert.deepEqual(late, [])
  })

  it('a member sends a verdict to every member lacking it in one round, not to gossipNodes of them', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
    const wire = cluster(ids)
    wire.silent.add('h')
    const t0 = wire.now
    // only a hears the verdict (from b)
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [{ type: 'dead', id: 'h', incarnation: 0, from: 'b', cause: 'unreachable' }] }))
    const carriesVerdict = (m: { from: string, msg: Message }): boolean => m.from === 'a' && 'updates' in m.msg && (m.msg.updates as Update[]).some(u => u.type === 'dead' && u.id === 'h')
    assert.ok(wire.advanceUntil(() => wire.sent.some(m => m.at >= t0 && carriesVerdict(m)), 1000))
    const round = wire.sent.find(m => m.at >= t0 && carriesVerdict(m))!.at
    const told = wire.sent.filter(m => m.at === round && carriesVerdict(m)).map(m => m.to.id)
    const heardFrom = wire.sent.filter(m => m.at >= t0 && m.at <= round && m.to.id === 'a' && 'updates' in m.msg &&
      (m.msg.updates as Update[]).some(u => u.type === 'dead' && u.id === 'h')).map(m => m.from)
    assert.ok(told.length > wire.config.gossipNodes, `told ${told.join(', ')}`)
    // The failed member is told too: a gossip candidate for gossipToTheDeadMs, so that it can refute if it lives.
    assert.deepEqual([...new Set([...told, ...heardFrom])].sort(), ['b', 'c', 'd', 'e', 'f', 'g', 'h'], 'everyone: told, or heard it from')
  })

  it('a seed sends a member that joins through it to every other member in one round, within a quarter gossip interval', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
    const wire = cluster(ids)
    wire.advance(5000)
    wire.add('j')
    const t0 = wire.now
    wire.input('j', (core, now) => core.join(now, [{ id: 'a', addrs: [addrOf('a')] }]))
    const announcesJ = (m: { from: string, msg: Message }): boolean => m.from === 'a' && m.msg.type === 'gossip' && m.msg.updates.some(u => u.type === 'alive' && u.id === 'j')
    assert.ok(wire.advanceUntil(() => wire.sent.some(m => m.at >= t0 && announcesJ(m)), 1000))
    const round = wire.sent.find(m => m.at >= t0 && announcesJ(m))!.at
    assert.ok(round - t0 <= wire.config.gossipIntervalMs / 4, `the seed's round came ${round - t0} ms after the join`)
    const told = wire.sent.filter(m => m.at === round && announcesJ(m)).map(m => m.to.id).sort()
    assert.deepEqual(told, ['b', 'c', 'd', 'e', 'f', 'g', 'h'], 'every member but the joiner, in that round')
  })

  it('a verdict with no one to send it to hurries one round only: a lone survivor does not wake every quarter interval', () => {
    const wire = cluster(['a', 'b'])
    wire.input('b', (core, now) => core.leave(now))
    assert.equal(wire.status('a', 'b'), 'left')
    const a = wire.core('a')
    const end = wire.now + 3000
    let ticks = 0
    for (let d = a.nextDeadline(); d <= end; d = a.nextDeadline()) {
      wire.now = Math.max(wire.now, d)
      wire.input('a', (core, now) => core.tick(now))
      ticks++
    }
    assert.ok(ticks <= 3000 / wire.config.gossipIntervalMs + 6, `${ticks} ticks in 3 s`)
  })
})

describe('membership core: leave, update, reaping', () => {

  it('a node back under a new peer id with the name of a failed member replaces it (restart without its key)', () => {
    const wire = cluster(['a', 'b', 'c'])
    wire.silent.add('c')
    assert.ok(wire.advanceUntil(() => wire.status('a', 'c') === 'failed', 60_000))
    wire.input('a', (core, now) => core.receive(now, 'c-new', {
      type: 'gossip', updates: [{ type: 'alive', id: 'c-new', name: 'c', addrs: [addrOf('c-new')], tags: {}, incarnation: 0, bootId: 'boot-2' }]
    }))
    const members = wire.core('a').members()
    assert.deepEqual(members.filter(m => m.name === 'c').map(m => [m.id, m.status]), [['c-new', 'alive']])
    assert.deepEqual(wire.eventsOf('a', undefined, 'c').map(e => e.type).slice(-1), ['member:reap'])
  })

  it('leaving while the join is still unanswered tells the seeds', () => {
    const wire = new Wire()
    const x = wire.add('x')
    x.join(0, [{ addrs: [addrOf('a')] }])
    const effects = x.leave(1)
    assert.ok(effects.some(e => e.kind === 'send' && e.to.addrs.includes(addrOf('a')) && e.msg.type === 'gossip' &&
      e.msg.updates.some(u => u.type === 'leave' && u.id === 'x')), 'the leave goes to the seed')
  })
  it('leave: every member is told directly and marks it left; the leaver stops probing', () => {
    const wire = cluster(['a', 'b', 'c'])
    const effects = wire.input('b', (core, now) => core.leave(now))
    const direct = effects.filter(e => e.kind === 'send').map(e => e.kind === 'send' ? e.to.id : '')
    assert.deepEqual(direct.sort(), ['a', 'c'])
    for (const e of effects) assert.ok(e.kind === 'send' && e.msg.type === 'gossip' && e.msg.updates[0].type === 'leave')
    assert.equal(wire.core('b').self.status, 'left')
    assert.equal(wire.core('b').self.incarnation, 1)
    for (const id of ['a', 'c']) {
      assert.equal(wire.status(id, 'b'), 'left')
      assert.equal(wire.core(id).member('b')?.cause, 'left')
      assert.equal(wire.eventsOf(id, 'member:leave', 'b').length, 1)
    }
    assert.equal(wire.core('b').nextDeadline(), Infinity)
    const probes = wire.core('b').stats().probesSent
    wire.advance(10_000)
    assert.equal(wire.core('b').stats().probesSent, probes)
    assert.ok(!wire.sent.some(s => s.at > 0 && s.msg.type === 'ping' && s.msg.target === 'b' && s.at > wire.now - 9000))
    assert.equal(wire.status('a', 'b'), 'left')
  })

  it('update() announces new tags with a higher incarnation: member:update elsewhere', () => {
    const wire = cluster(['a', 'b'])
    wire.input('b', (core, now) => core.update(now, { tags: { role: 'db' } }))
    assert.equal(wire.core('b').self.incarnation, 1)
    assert.ok(wire.advanceUntil(() => wire.core('a').member('b')?.tags.role === 'db', 2000))
    assert.equal(wire.eventsOf('a', 'member:update', 'b').length, 1)
  })

  it('failed members are reaped after reapFailedAfterMs; stale gossip does not bring them back', () => {
    const wire = cluster(['a', 'b', 'c'], { reapFailedAfterMs: 5000 })
    wire.silent.add('c')
    assert.ok(wire.advanceUntil(() => wire.status('a', 'c') === 'failed', 60_000))
    const inc = wire.core('a').member('c')!.incarnation
    assert.ok(wire.advanceUntil(() => wire.core('a').member('c') == null, 6000))
    assert.equal(wire.eventsOf('a', 'member:reap', 'c').length, 1)
    const stale: Update = { type: 'alive', id: 'c', name: 'c', addrs: [addrOf('c')], tags: {}, incarnation: inc, bootId: 'boot-c' }
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [stale] }))
    assert.equal(wire.core('a').member('c'), undefined)
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [{ ...stale, incarnation: inc + 1 }] }))
    assert.equal(wire.status('a', 'c'), 'alive')
  })

  it('a restart (new boot id, incarnation 0) is accepted; a failed member comes back as member:join', () => {
    const wire = cluster(['a', 'b', 'c'])
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [{ type: 'dead', id: 'c', incarnation: 0, from: 'b', cause: 'unreachable' }] }))
    assert.equal(wire.status('a', 'c'), 'failed')
    const restarted: Update = { type: 'alive', id: 'c', name: 'c', addrs: [addrOf('c')], tags: {}, incarnation: 0, bootId: 'boot-c-2' }
    wire.input('a', (core, now) => core.receive(now, 'c', { type: 'gossip', updates: [restarted] }))
    assert.equal(wire.status('a', 'c'), 'alive')
    assert.equal(wire.core('a').member('c')?.bootId, 'boot-c-2')
    assert.deepEqual(wire.eventsOf('a', undefined, 'c').map(e => e.type), ['member:join', 'member:failed', 'member:join'])
  })

  it('a left member only comes back with a higher incarnation', () => {
    const wire = cluster(['a', 'b'])
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [{ type: 'leave', id: 'b', incarnation: 3 }] }))
    assert.equal(wire.status('a', 'b'), 'left')
    const alive: Update = { type: 'alive', id: 'b', name: 'b', addrs: [addrOf('b')], tags: {}, incarnation: 3, bootId: 'boot-b' }
    wire.core('a').receive(wire.now, 'x', { type: 'gossip', updates: [alive] })
    assert.equal(wire.status('a', 'b'), 'left')
    wire.core('a').receive(wire.now, 'x', { type: 'gossip', updates: [{ ...alive, incarnation: 4 }] })
    assert.equal(wire.status('a', 'b'), 'alive')
  })
})

describe('membership core: robustness', () => {
  it('drops and counts implausible messages without throwing', () => {
    const wire = cluster(['a', 'b'])
    const a = wire.core('a')
    const before = a.stats()
    const bad: unknown[] = [
      null,
      42,
      { type: 'nope' },
      { type: 'ping', seq: -1, target: 'a', updates: [] },
      { type: 'ping', seq: 1.5, target: 'a', updates: [] },
      { type: 'ping', seq: 1, target: '', updates: [] },
      { type: 'ping', seq: 1, target: 'a' },
      { type: 'gossip', updates: [{ type: 'alive', id: '', name: 'x', addrs: [], tags: {}, incarnation: 0, bootId: 'x' }] },
      { type: 'gossip', updates: [{ type: 'suspect', id: 'b', incarnation: Number.NaN, from: 'x' }] },
      { type: 'gossip', updates: [{ type: 'dead', id: 'b', incarnation: -1, from: 'x', cause: 'unreachable' }] },
      { type: 'gossip', updates: [{ type: 'dead', id: 'b', incarnation: 9, from: 'x', cause: 'boom' }] },
      { type: 'gossip', updates: [{ type: 'leave', id: 'b', incarnation: Infinity }] },
      { type: 'gossip', updates: 'x' },
      { type: 'sync', reply: true, join: false, members: [{ id: 'z', status: 'weird' }] },
      { type: 'ack', seq: 123456, updates: [] },
      { type: 'nack', seq: 123456, reason: 'timeout', updates: [] },
      { type: 'nack', seq: 1, reason: 'because', updates: [] }
    ]
    for (const msg of bad) {
      assert.doesNotThrow(() => a.receive(wire.now, 'b', msg as Message))
    }
    assert.doesNotThrow(() => a.receive(wire.now, '', { type: 'gossip', updates: [] }))
    assert.doesNotThrow(() => a.receive(wire.now, 'a', { type: 'gossip', updates: [] }))
    assert.doesNotThrow(() => a.deliveryFailed(wire.now, { addrs: [] }, null as unknown as Message, 'refused'))
    assert.doesNotThrow(() => a.receive(Number.NaN, 'b', { type: 'gossip', updates: [] }))
    const after = a.stats()
    assert.equal(after.messagesIgnored - before.messagesIgnored, bad.length + 2)
    assert.equal(after.messagesReceived - before.messagesReceived, bad.length + 3)
    assert.equal(wire.status('a', 'b'), 'alive')
    assert.equal(a.members().length, 2)
  })

  it('answers pings from unknown senders and asks them for a sync; ignores pings meant for someone else', () => {
    const wire = cluster(['a'])
    const a = wire.core('a')
    const out = a.receive(0, 'stranger', { type: 'ping', seq: 7, target: 'a', updates: [] })
    assert.equal(out.length, 2)
    assert.ok(out[0].kind === 'send' && out[0].msg.type === 'ack' && out[0].msg.seq === 7)
    assert.deepEqual(out[0].to, { id: 'stranger', addrs: [] })
    assert.ok(out[1].kind === 'send' && out[1].msg.type === 'sync' && out[1].msg.reply && out[1].to.id === 'stranger')
    assert.deepEqual(a.receive(0, 'stranger', { type: 'ping', seq: 8, target: 'other', updates: [] }), [], 'sync requests are rate-limited')
    assert.equal(a.stats().messagesIgnored, 1)
  })

  it('answers an accusation of an already refuted incarnation with its current announcement', () => {
    const wire = cluster(['a', 'b'])
    const b = wire.core('b')
    b.receive(wire.now, 'a', { type: 'gossip', updates: [{ type: 'suspect', id: 'b', incarnation: 0, from: 'a' }] })
    assert.equal(b.self.incarnation, 1)
    const out = b.receive(wire.now + 1000, 'a', { type: 'gossip', updates: [{ type: 'suspect', id: 'b', incarnation: 0, from: 'x' }] })
    assert.equal(b.stats().refutations, 1)
    const reply = out.find(e => e.kind === 'send' && e.to.id === 'a')
    assert.ok(reply?.kind === 'send' && reply.msg.type === 'gossip')
    assert.deepEqual(reply.msg.updates.map(u => [u.type, u.id, u.incarnation]), [['alive', 'b', 1]])
  })

  it('a member that missed a refutation learns it from the suspect itself before its timer runs out', () => {
    const wire = cluster(['a', 'b', 'c', 'd', 'e'])
    // Everyone but a hears that e refuted; a only saw the suspicion.
    wire.drop = m => m.to.id === 'a' && 'updates' in m.msg && m.msg.updates.some(u => u.id === 'e' && u.type === 'alive')
    for (const id of ['a', 'b', 'c', 'd']) {
      wire.input(id, (core, now) => core.receive(now, 'x', { type: 'gossip', updates: [{ type: 'suspect', id: 'e', incarnation: 0, from: 'x' }] }))
    }
    assert.ok(wire.advanceUntil(() => ['b', 'c', 'd'].every(id => wire.status(id, 'e') === 'alive'), 3000))
    assert.equal(wire.status('a', 'e'), 'suspect')
    wire.drop = () => false
    assert.ok(wire.advanceUntil(() => wire.status('a', 'e') !== 'suspect', 60_000))
    assert.equal(wire.status('a', 'e'), 'alive')
    assert.deepEqual(wire.eventsOf('a', 'member:failed'), [])
  })

  it('ignores updates that accuse us with an old incarnation, refutes current ones', () => {
    const wire = cluster(['a', 'b'])
    wire.input('a', (core, now) => core.update(now, { tags: { v: '2' } }))
    const a = wire.core('a')
    a.receive(wire.now, 'b', { type: 'gossip', updates: [{ type: 'suspect', id: 'a', incarnation: 0, from: 'b' }] })
    assert.equal(a.stats().refutations, 0)
    a.receive(wire.now, 'b', { type: 'gossip', updates: [{ type: 'dead', id: 'a', incarnation: 1, from: 'b', cause: 'unreachable' }] })
    assert.equal(a.stats().refutations, 1)
    assert.equal(a.self.incarnation, 2)
    assert.equal(a.self.status, 'alive')
  })

  it('a long stall (time jump) drops in-flight probes instead of accusing everyone', () => {
    const wire = cluster(['a', 'b', 'c', 'd'])
    const a = wire.core('a')
    // a is frozen: it is not ticked and hears nothing for 60 s; the others keep going.
    wire.silent.add('a')
    wire.advance(60_000)
    wire.silent.delete('a')
    const effects = wire.input('a', (core, now) => core.tick(now))
    const events = effects.filter(e => e.kind === 'event' && e.event.type !== 'member:alive')
    assert.deepEqual(events, [], 'no suspicion or failure from overdue timers')
    assert.ok(effects.some(e => e.kind === 'send' && e.msg.type === 'digest'), 'a push-pull at once to catch up')
    assert.ok(wire.advanceUntil(() => ['b', 'c', 'd'].every(id => wire.status(id, 'a') === 'alive'), 5000))
    assert.ok(['b', 'c', 'd'].every(id => wire.status('a', id) === 'alive'))
    assert.ok(a.self.incarnation >= 1, 'it refuted')
  })

  it('is deterministic for a given seed', () => {
    const run = (): string => {
      const wire = cluster(['a', 'b', 'c', 'd'])
      wire.silent.add('d')
      wire.advance(20_000)
      return JSON.stringify(wire.sent.map(s => [s.at, s.from, s.to.id, s.msg.type]))
    }
    assert.equal(run(), run())
  })
})
