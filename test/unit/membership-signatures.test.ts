/**
 * Signed membership statements (membership/signatures.ts) with real ed25519 keys
 * (gossip/signer.ts): a member cannot revive, refute for or retire
 * another, by gossip or by push-pull, and every forgery is counted.
 */
import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { accusationPayload, signedAlivePayload, signedLeavePayload } from '../../membership/index.ts'
import type { Signer, Message, SyncEntry, Update } from '../../membership/index.ts'
import { ed25519Signer } from '../../gossip/signer.ts'
import { addrOf, Wire } from './membership-harness.ts'

interface Node { id: string, key: PrivateKey, signer: Signer }

let a: Node, b: Node, m: Node

async function node (): Promise<Node> {
  const key = await generateKeyPair('Ed25519')
  return { id: peerIdFromPrivateKey(key).toString(), key, signer: ed25519Signer(key) }
}

function signedCluster (): Wire {
  const byId = new Map([a, b, m].map(n => [n.id, n.signer]))
  const wire = new Wire({}, id => byId.get(id)!)
  for (const n of [a, b, m]) wire.add(n.id)
  wire.joinAll()
  return wire
}

/** An alive for `about` at `incarnation`, signed by `signer`. */
function aliveBy (signer: Node, wire: Wire, about: string, incarnation: number): Update {
  const known = wire.core(a.id).member(about)!
  const ann = { id: about, name: known.name, addrs: [...known.addrs], tags: { ...known.tags }, incarnation, bootId: known.bootId }
  return { type: 'alive', ...ann, signature: signer.signer.sign(signedAlivePayload(ann)) }
}

function leaveBy (signer: Node, about: string, incarnation: number): Update {
  return { type: 'leave', id: about, incarnation, signature: signer.signer.sign(signedLeavePayload(about, incarnation)) }
}

function deliver (wire: Wire, from: Node, to: Node, msg: Message): void {
  wire.perform(to.id, wire.core(to.id).receive(wire.now, from.id, msg))
}

describe('membership statements: signed alive and leave', () => {
  before(async () => { [a, b, m] = await Promise.all([node(), node(), node()]) })

  it('a signed cluster converges and gossips only signed statements', () => {
    const wire = signedCluster()
    for (const n of [a, b, m]) assert.deepEqual(wire.core(n.id).members().map(x => x.status), ['alive', 'alive', 'alive'])
    for (const n of [a, b, m]) assert.equal(wire.core(n.id).stats().signaturesRejected, 0)
    const alives = wire.sent.flatMap(s => 'updates' in s.msg ? s.msg.updates : []).filter(u => u.type === 'alive')
    assert.ok(alives.length > 0)
    assert.ok(alives.every(u => u.type === 'alive' && u.signature?.byteLength === 64))
  })

  it('an alive forged for a failed member is rejected and counted; the member\'s own is applied', () => {
    const wire = signedCluster()
    wire.silent.add(b.id)
    assert.ok(wire.advanceUntil(() => wire.status(a.id, b.id) === 'failed' && wire.status(m.id, b.id) === 'failed', 60_000))
    const incarnation = wire.core(a.id).member(b.id)!.incarnation + 5
    const before = wire.core(a.id).stats().signaturesRejected

    deliver(wire, m, a, { type: 'gossip', updates: [aliveBy(m, wire, b.id, incarnation)] })
    const unsigned = aliveBy(m, wire, b.id, incarnation)
    delete (unsigned as { signature?: Uint8Array }).signature
    deliver(wire, m, a, { type: 'gossip', updates: [unsigned] })
    assert.equal(wire.status(a.id, b.id), 'failed')
    assert.equal(wire.core(a.id).stats().signaturesRejected, before + 2)

    // The same statement signed by b itself (b came back) is taken.
    deliver(wire, m, a, { type: 'gossip', updates: [aliveBy(b, wire, b.id, incarnation)] })
    assert.equal(wire.status(a.id, b.id), 'alive')
    assert.equal(wire.core(a.id).stats().signaturesRejected, before + 2)
  })

  it('a leave forged for another member is rejected and counted, by gossip and by push-pull', () => {
    const wire = signedCluster()
    const inc = wire.core(a.id).member(b.id)!.incarnation + 1
    deliver(wire, m, a, { type: 'gossip', updates: [leaveBy(m, b.id, inc)] })
    deliver(wire, m, a, { type: 'gossip', updates: [{ type: 'leave', id: b.id, incarnation: inc }] })
    const entry: SyncEntry = { ...wire.core(a.id).member(b.id)!, incarnation: inc, status: 'left', signature: m.signer.sign(signedLeavePayload(b.id, inc)) }
    deliver(wire, m, a, { type: 'sync', reply: false, join: false, members: [entry] })
    assert.equal(wire.status(a.id, b.id), 'alive')
    assert.equal(wire.core(a.id).stats().signaturesRejected, 3)

    // b's real leave reaches everyone, and a relays b's signature in push-pull.
    wire.input(b.id, (core, now) => core.leave(now))
    assert.equal(wire.status(a.id, b.id), 'left')
    assert.equal(wire.status(m.id, b.id), 'left')
    assert.equal(wire.core(a.id).stats().signaturesRejected, 3)
  })

  it('an alive forged about the receiver itself does not make it refute (no incarnation inflation)', () => {
    const wire = signedCluster()
    const self = wire.core(a.id).self
    const before = self.incarnation
    const ann = { id: a.id, name: self.name, addrs: [...self.addrs], tags: {}, incarnation: 1_000_000, bootId: 'other' }
    deliver(wire, m, a, { type: 'gossip', updates: [{ type: 'alive', ...ann, signature: m.signer.sign(signedAlivePayload(ann)) }] })
    assert.equal(wire.core(a.id).self.incarnation, before)
    assert.equal(wire.core(a.id).stats().signaturesRejected, 1)
  })

  it('a member learned only by push-pull through a third node is accepted: relayed signatures verify', () => {
    const byId = new Map([a, b, m].map(n => [n.id, n.signer]))
    const wire = new Wire({}, id => byId.get(id)!)
    for (const n of [a, b, m]) wire.add(n.id)
    // b and m join a; a's sync answers carry b's and m's signed statements to each other.
    wire.input(b.id, (core, now) => core.join(now, [{ addrs: [addrOf(a.id)] }]))
    wire.input(m.id, (core, now) => core.join(now, [{ addrs: [addrOf(a.id)] }]))
    assert.equal(wire.status(m.id, b.id), 'alive')
    for (const n of [a, b, m]) assert.equal(wire.core(n.id).stats().signaturesRejected, 0)
  })
})

describe('membership statements: implausible accusations', () => {
  it('an accusation at incarnation 2^53 - 1 is not refuted: our incarnation stays encodable', () => {
    const wire = new Wire()
    wire.add('a')
    wire.add('b')
    wire.joinAll()
    const before = wire.core('a').self.incarnation
    wire.perform('a', wire.core('a').receive(wire.now, 'b', { type: 'gossip', updates: [{ type: 'suspect', id: 'a', incarnation: Number.MAX_SAFE_INTEGER, from: 'b' }] }))
    assert.equal(wire.core('a').self.incarnation, before)
    assert.ok(Number.isSafeInteger(wire.core('a').self.incarnation))
  })
})

describe('membership statements: signed accusations', () => {
  before(async () => { if (a == null) [a, b, m] = await Promise.all([node(), node(), node()]) })

  it('a suspicion or failure reported in another member\'s name is rejected and counted; the reporter\'s own is taken', () => {
    const wire = signedCluster()
    const inc = wire.core(a.id).member(b.id)!.incarnation
    const forged = (type: 'suspect' | 'dead'): Update => {
      const payload = accusationPayload(type, b.id, inc, a.id) // statements to come from a…
      const base = { id: b.id, incarnation: inc, from: a.id, signature: m.signer.sign(payload) } // …signed by m
      return type === 'suspect' ? { type, ...base } : { type, ...base, cause: 'crash' }
    }
    deliver(wire, m, a, { type: 'gossip', updates: [forged('suspect'), forged('dead'), { type: 'suspect', id: b.id, incarnation: inc, from: m.id }] })
    assert.equal(wire.status(a.id, b.id), 'alive')
    assert.equal(wire.core(a.id).stats().signaturesRejected, 3)
    // An accusation about the receiver in another's name does not make it refute.
    const selfInc = wire.core(a.id).self.incarnation
    deliver(wire, m, a, { type: 'gossip', updates: [{ type: 'suspect', id: a.id, incarnation: selfInc, from: b.id, signature: m.signer.sign(accusationPayload('suspect', a.id, selfInc, b.id)) }] })
    assert.equal(wire.core(a.id).self.incarnation, selfInc)
    // m's own signed suspicion of b is taken (anyone may accuse), and b refutes it.
    const own = { type: 'suspect' as const, id: b.id, incarnation: inc, from: m.id, signature: m.signer.sign(accusationPayload('suspect', b.id, inc, m.id)) }
    deliver(wire, m, a, { type: 'gossip', updates: [own] })
    assert.equal(wire.status(a.id, b.id), 'suspect')
    assert.ok(wire.advanceUntil(() => wire.status(a.id, b.id) === 'alive', 5000), 'b refutes')
    assert.equal(wire.core(a.id).stats().signaturesRejected, 4)
  })

  it('a signed cluster detects a silent member as failed and rejects nothing on the way', () => {
    const wire = signedCluster()
    wire.silent.add(m.id)
    assert.ok(wire.advanceUntil(() => wire.status(a.id, m.id) === 'failed' && wire.status(b.id, m.id) === 'failed', 60_000))
    for (const n of [a, b]) assert.equal(wire.core(n.id).stats().signaturesRejected, 0)
  })
})
