/**
 * A probe waits for a member at least probePatienceMult (2) times the slowest
 * ack that member gave lately (membership/probe-clock.ts): where every ack
 * takes longer than the probe timeout (a starved host), each prober suspects
 * a member once, then waits for it; a member that was slow and then crashes
 * is still suspected and failed, later by at most the cap.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Wire } from './membership-harness.ts'
import type { MemberId, MembershipConfig, Message } from '../../membership/index.ts'

const IDS = ['a', 'b', 'c', 'd', 'e', 'f']
/** Longer than the probe timeout (500 ms) and the whole probe interval (1 s) on lan. */
const ACK_DELAY_MS = 1200

/** Six members joined, with every ack delivered ACK_DELAY_MS after it was sent. */
class SlowAcks {
  readonly wire: Wire
  readonly #held: Array<{ at: number, from: MemberId, to: MemberId, msg: Message }> = []

  constructor (config: Partial<MembershipConfig>) {
    this.wire = new Wire(config)
    for (const id of IDS) this.wire.add(id)
    this.wire.joinAll()
    this.wire.drop = ({ at, from, to, msg }) => {
      if (msg.type !== 'ack' || to.id == null) return false
      this.#held.push({ at: at + ACK_DELAY_MS, from, to: to.id, msg })
      return true
    }
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
