/**
 * An operator's force-leave (membership/self-changes.ts forceLeave) with real
 * ed25519 keys: a failed member becomes `left` on every member that holds it
 * failed, by gossip and by push-pull, and is forgotten after
 * reapForcedLeftAfterMs; a live member cannot be retired, and nobody can force
 * a leave in another member's name.
 */
import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { forcedLeavePayload } from '../../membership/index.ts'
import type { Message, Signer, SyncEntry } from '../../membership/index.ts'
import { ed25519Signer } from '../../gossip/signer.ts'
import { Wire } from './membership-harness.ts'

interface Node { id: string, signer: Signer }

let a: Node, b: Node, c: Node, m: Node

async function node (): Promise<Node> {
  const key = await generateKeyPair('Ed25519')
  return { id: peerIdFromPrivateKey(key).toString(), signer: ed25519Signer(key) }
}

function cluster (): Wire {
  const byId = new Map([a, b, c, m].map(n => [n.id, n.signer]))
  const wire = new Wire({ reapForcedLeftAfterMs: 60_000 }, id => byId.get(id)!)
  for (const n of [a, b, c, m]) wire.add(n.id)
  wire.joinAll()
  return wire
}

/** `b` crashes (its process answers nothing) and every other member holds it failed. */
function crashB (wire: Wire): void {
  wire.silent.add(b.id)
  assert.ok(wire.advanceUntil(() => [a, c, m].every(n => wire.status(n.id, b.id) === 'failed'), 60_000))
}

function deliver (wire: Wire, from: Node, to: Node, msg: Message): void {
  wire.perform(to.id, wire.core(to.id).receive(wire.now, from.id, msg))
}

describe('membership: force-leave', () => {
  before(async () => { [a, b, c, m] = await Promise.all([node(), node(), node(), node()]) })

  it('retires a failed member everywhere, and it is forgotten after reapForcedLeftAfterMs', () => {
    const wire = cluster()
    crashB(wire)
    wire.input(a.id, (core, now) => core.forceLeave(now, b.id))
    assert.equal(wire.status(a.id, b.id), 'left')
    assert.equal(wire.core(a.id).member(b.id)?.cause, 'left')
    assert.ok(wire.advanceUntil(() => [c, m].every(n => wire.status(n.id, b.id) === 'left'), 5_000))
    for (const n of [a, c, m]) assert.equal(wire.eventsOf(n.id, 'member:leave', b.id).length, 1)
    for (const n of [a, c, m]) assert.equal(wire.core(n.id).stats().signaturesRejected, 0)
    wire.advance(61_000)
    for (const n of [a, c, m]) assert.equal(wire.status(n.id, b.id), undefined, 'reaped')
  })

  it('reaches a member that missed the gossip through push-pull', () => {
    const wire = cluster()
    crashB(wire)
    // m hears nothing for a while: the forced leave's gossip runs out meanwhile.
    wire.drop = s => s.to.id === m.id || s.from === m.id
    wire.input(a.id, (core, now) => core.forceLeave(now, b.id))
    wire.advance(10_000)
    assert.equal(wire.status(m.id, b.id), 'failed')
    wire.drop = () => false
    assert.ok(wire.advanceUntil(() => wire.status(m.id, b.id) === 'left', 120_000))
    assert.equal(wire.core(m.id).stats().signaturesRejected, 0)
  })

  it('does nothing to a member that is alive: not here, and not where it is sent', () => {
    const wire = cluster()
    wire.input(a.id, (core, now) => core.forceLeave(now, b.id))
    assert.equal(wire.status(a.id, b.id), 'alive')
    // A forced leave made by hand (a hostile member's) about a live member: others ignore it, b refutes it.
    const inc = wire.core(m.id).member(b.id)!.incarnation
    const forced = { type: 'leave' as const, id: b.id, incarnation: inc, from: m.id, signature: m.signer.sign(forcedLeavePayload(b.id, inc, m.id)) }
    deliver(wire, m, c, { type: 'gossip', updates: [forced] })
    assert.equal(wire.status(c.id, b.id), 'alive')
    const before = wire.core(b.id).self.incarnation
    deliver(wire, m, b, { type: 'gossip', updates: [{ ...forced, incarnation: before }] })
    assert.ok(wire.core(b.id).self.incarnation > before, 'b refuted')
  })

  it('a forced leave in another member\'s name is rejected and counted, by gossip and by push-pull', () => {
    const wire = cluster()
    crashB(wire)
    const inc = wire.core(c.id).member(b.id)!.incarnation
    // Signed by m, claiming to be a's.
    const forged = { type: 'leave' as const, id: b.id, incarnation: inc, from: a.id, signature: m.signer.sign(forcedLeavePayload(b.id, inc, a.id)) }
    deliver(wire, m, c, { type: 'gossip', updates: [forged] })
    const entry: SyncEntry = { ...wire.core(c.id).member(b.id)!, status: 'left', forcedBy: a.id, signature: forged.signature }
    deliver(wire, m, c, { type: 'sync', reply: false, join: false, members: [entry] })
    assert.equal(wire.status(c.id, b.id), 'failed')
    assert.equal(wire.core(c.id).stats().signaturesRejected, 2)
  })

  it('a retired member that comes back is alive again', () => {
    const wire = cluster()
    crashB(wire)
    wire.input(a.id, (core, now) => core.forceLeave(now, b.id))
    assert.ok(wire.advanceUntil(() => [c, m].every(n => wire.status(n.id, b.id) === 'left'), 5_000))
    wire.silent.delete(b.id)
    assert.ok(wire.advanceUntil(() => [a, c, m].every(n => wire.status(n.id, b.id) === 'alive'), 120_000))
  })
})
