/**
 * A probe waits for a member at least probePatienceMult (2) times the slowest
 * ack that member gave lately (membership/probe-clock.ts): where every ack
 * takes longer than the probe timeout (a starved host), each prober would
 * suspect a member once, then wait for it; a member that was slow and then
 * crashes is still suspected and failed, later by at most the cap. A member
 * that came lately and has not acked yet is given firstAckPatienceMs (4 s on
 * lan), so that even its first probe waits for a slow first ack.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { addrOf, Wire } from './membership-harness.ts'
import type { MemberId, MembershipConfig, Message } from '../../membership/index.ts'

const IDS = ['a', 'b', 'c', 'd', 'e', 'f']
/** Longer than the probe timeout (500 ms) and the whole probe interval (1 s) on lan. */
const ACK_DELAY_MS = 1200

/** Six members joining, with every ack delivered ACK_DELAY_MS after it was sent from the join on. */
class SlowAcks {
  readonly wire: Wire
  readonly #held: Array<{ at: number, from: MemberId, to: MemberId, msg: Message }> = []

  constructor (config: Partial<MembershipConfig>) {
    this.wire = new Wire(config)
    for (const id of IDS) this.wire.add(id)
    this.wire.drop = ({ at, from, to, msg }) => {
      if (msg.type !== 'ack' || to.id == null) return false
      this.#held.push({ at: at + ACK_DELAY_MS, from, to: to.id, msg })
      return true
    }
    // joined with the acks held from the first probe on, and no settling before the test's own time
    this.wire.joinAll(0)
  }

  /** Advances `ms`, delivering each held ack when due (not to a silent member, nor from one that fell silent since). */
  advance (ms: number): void {
    const end = this.wire.now + ms
    while (this.wire.now < end) {
      this.wire.advanceTo(Math.min(end, this.wire.now + 10))
      for (const h of this.#held.filter(h => h.at <= this.wire.now)) {
        this.#held.splice(this.#held.indexOf(h), 1)
        if (!this.wire.silent.has(h.to) && !this.wire.silent.has(h.from)) this.wire.input(h.to, (core, now) => core.receive(now, h.from, h.msg))
      }
    }
  }

  suspicionsRaised (): number {
    return IDS.reduce((sum, id) => sum + this.wire.core(id).stats().suspicionsRaised, 0)
  }
}

describe('membership core: probes patient with members that ack slowly', () => {
  it('every ack 1.2 s late: after a first suspicion per member, none; without patience they go on', () => {
    const raisedOver = (config: Partial<MembershipConfig>): number => {
      const cluster = new SlowAcks(config)
      cluster.advance(20_000)
      const before = cluster.suspicionsRaised()
      cluster.advance(40_000)
      for (const id of IDS) assert.ok(IDS.every(other => other === id || cluster.wire.status(id, other) !== 'failed'), `${id} failed nobody`)
      return cluster.suspicionsRaised() - before
    }
    assert.equal(raisedOver({}), 0)
    assert.ok(raisedOver({ probePatienceMult: 0 }) > 20, 'without patience, suspicions go on')
  })

  it('every ack 1.2 s late from the join on: not even a first suspicion; without first-ack patience one per prober and member', () => {
    const raisedInStart = (config: Partial<MembershipConfig>): number => {
      const cluster = new SlowAcks(config)
      cluster.advance(20_000)
      return cluster.suspicionsRaised()
    }
    assert.equal(raisedInStart({}), 0)
    assert.ok(raisedInStart({ firstAckPatienceMs: 0 }) >= IDS.length, 'without first-ack patience, first probes suspect')
  })

  it('a member that stops before its first ack is still failed, its suspicion later by at most twice firstAckPatienceMs', () => {
    const wire = new Wire({})
    for (const id of IDS) wire.add(id)
    wire.joinAll()
    wire.advance(20_000)
    wire.add('g')
    wire.input('g', (core, now) => core.join(now, [{ addrs: [addrOf('a')] }]))
    const joinedAt = wire.now
    // g's join reaches the seed and spreads, but g answers nothing once the seed has it
    assert.ok(wire.advanceUntil(() => wire.status('a', 'g') != null, 5000, 1), 'g was learned')
    wire.silent.add('g')
    const suspected = (): boolean => IDS.some(id => wire.status(id, 'g') === 'suspect' || wire.status(id, 'g') === 'failed')
    assert.ok(wire.advanceUntil(suspected, 30_000), 'g suspected')
    // from the first probe of g (each member puts a new one at a random place in its
    // probe order), at most the first-ack patience twice (direct, indirect)
    const firstProbe = wire.sent.find(m => m.at >= joinedAt && m.to.id === 'g' && m.msg.type === 'ping')
    assert.ok(firstProbe != null, 'g was probed')
    assert.ok(wire.now - firstProbe.at <= 2 * 4000 + 500, `suspected ${wire.now - firstProbe.at} ms after its first probe`)
    assert.ok(wire.advanceUntil(() => IDS.every(id => wire.status(id, 'g') == null || wire.status(id, 'g') === 'failed'), 120_000, 100), 'g failed everywhere')
  })

  it('a member that acked slowly and then crashed is still failed, its suspicion later by at most the cap', () => {
    const cluster = new SlowAcks({})
    cluster.advance(20_000)
    cluster.wire.silent.add('f')
    const crashedAt = cluster.wire.now
    const suspected = (): boolean => IDS.some(id => id !== 'f' && cluster.wire.status(id, 'f') !== 'alive')
    while (!suspected() && cluster.wire.now - crashedAt < 30_000) cluster.advance(10)
    // a probe waits at most twice the cap (4 s on lan: 8 × the 500 ms probe timeout), after a probe interval at most
    assert.ok(cluster.wire.now - crashedAt <= 1000 + 2 * 4000 + 100, `suspected ${cluster.wire.now - crashedAt} ms after the crash`)
    while (IDS.some(id => id !== 'f' && cluster.wire.status(id, 'f') !== 'failed') && cluster.wire.now - crashedAt < 120_000) cluster.advance(100)
    for (const id of IDS) if (id !== 'f') assert.equal(cluster.wire.status(id, 'f'), 'failed', `${id} failed f`)
  })
})
