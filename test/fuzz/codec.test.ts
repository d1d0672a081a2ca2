/**
 * Fuzz of the SWIM wire decoder (gossip/codec.ts decodeMessage) and of the
 * membership core behind it. Inputs: random bytes, and mutations of a corpus
 * of valid frames recorded from a simulated, claim-signing cluster (every
 * message type, signed alive/leave, full syncs) plus boundary messages.
 *
 * Rules: decodeMessage returns a valid message (that survives its own round
 * trip) or throws MalformedMessageError, nothing else; whatever it accepts,
 * a membership core receives without throwing.
 */
import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import { MESSAGE_LIMITS, MalformedMessageError, WIRE_VERSION, decodeMessage, encodeMessage, validateMessage } from '../../gossip/codec.ts'
import { accusationPayload, signedAlivePayload, createMembership, fromPartial, signedLeavePayload, forcedLeavePayload, seededRandom } from '../../membership/index.ts'
import type { MemberAnnouncement, Membership, Message, Update } from '../../membership/index.ts'
import { fakeSigner } from '../../testkit/sim/fake-signer.ts'
import { addrOf, Wire } from '../unit/membership-harness.ts'
import { concat, mutate, runFuzz, type Rng } from './fuzz.ts'
import * as lp from 'it-length-prefixed'

const ID = (i: number): string => `12D3KooW${'ABCDEFGHJKLMNPQRSTUVWXYZ'[i]}${'1'.repeat(44)}`

function recordCorpus (): Uint8Array[] {
  const wire = new Wire({}, fakeSigner)
  const ids = [0, 1, 2, 3, 4].map(ID)
  for (const id of ids) wire.add(id)
  wire.joinAll()
  wire.input(ids[1], (core, now) => core.update(now, { tags: { role: 'db', zone: 'eu' } }))
  wire.silent.add(ids[2])
  wire.advance(20_000)
  wire.silent.delete(ids[2])
  wire.advance(5000)
  wire.input(ids[3], (core, now) => core.leave(now))
  wire.silent.add(ids[4])
  wire.advance(20_000)
  wire.input(ids[0], (core, now) => core.forceLeave(now, ids[4]))
  wire.advance(2000)
  const seen = new Set<string>()
  const corpus: Uint8Array[] = []
  for (const { msg } of wire.sent) {
    const bytes = encodeMessage(msg)
    const key = Buffer.from(bytes).toString('base64')
    if (!seen.has(key) && bytes.byteLength < 8192) { seen.add(key); corpus.push(bytes) }
  }
  const limits: Message = {
    type: 'gossip',
    updates: [{
      type: 'alive', id: 'Q'.repeat(MESSAGE_LIMITS.maxIdBytes), name: 'n'.repeat(MESSAGE_LIMITS.maxNameBytes), bootId: 'b', incarnation: Number.MAX_SAFE_INTEGER,
      addrs: ['/ip4/1.2.3.4/tcp/1'], tags: { ['k'.repeat(MESSAGE_LIMITS.maxTagBytes)]: 'v' }, signature: new Uint8Array(MESSAGE_LIMITS.maxSignatureBytes)
    }, { type: 'dead', id: ID(0), incarnation: 1, from: ID(1), cause: 'partition' }]
  }
  corpus.push(encodeMessage(limits))
  return corpus
}

/** A structurally valid random message over a small id pool: reaches deep into the core rather than the decoder. */
function randomMessage (rng: Rng): Message {
  // Sometimes the fuzzed core's own id: accusations and claims about itself.
  const id = (): string => rng.next() < 0.15 ? ID(20) : ID(rng.int(13))
  const inc = (): number => rng.pick([0, 1, 2, 3, rng.int(1000), Number.MAX_SAFE_INTEGER])
  const ann = (): MemberAnnouncement => ({ id: id(), name: rng.pick(['a', 'b', 'fuzzed', '']), addrs: [addrOf(id())], tags: rng.next() < 0.5 ? {} : { k: 'v' } as Record<string, string>, incarnation: inc(), bootId: rng.pick(['b1', 'b2', 'fz']) })
  const sig = (): { signature?: Uint8Array } => rng.next() < 0.7 ? { signature: rng.bytes(64) } : {}
  const update = (): Update => {
    switch (rng.int(4)) {
      case 0: {
        // Half signed for real (the fake scheme the core checks), so that claims get applied too.
        const a = ann()
        return { type: 'alive', ...a, ...(rng.next() < 0.5 ? { signature: fakeSigner(a.id).sign(signedAlivePayload(a)) } : sig()) }
      }
      case 1: case 2: {
        const type = rng.next() < 0.5 ? 'suspect' as const : 'dead' as const
        const [about, incarnation, from] = [id(), inc(), id()]
        const signature = rng.next() < 0.5 ? fakeSigner(from).sign(accusationPayload(type, about, incarnation, from)) : rng.bytes(64)
        return type === 'suspect'
          ? { type, id: about, incarnation, from, signature }
          : { type, id: about, incarnation, from, signature, cause: rng.pick(['crash', 'unreachable', 'partition', 'left'] as const) }
      }
      default: {
        const [who, incarnation] = [id(), inc()]
        if (rng.next() < 0.3) {
          const from = id() // a forced leave (force-leave), signed by `from`
          return { type: 'leave', id: who, incarnation, from, ...(rng.next() < 0.5 ? { signature: fakeSigner(from).sign(forcedLeavePayload(who, incarnation, from)) } : sig()) }
        }
        return { type: 'leave', id: who, incarnation, ...(rng.next() < 0.5 ? { signature: fakeSigner(who).sign(signedLeavePayload(who, incarnation)) } : sig()) }
      }
    }
  }
  const updates = (): Update[] => Array.from({ length: rng.int(6) }, update)
  const seq = (): number => rng.int(50)
  switch (rng.int(7)) {
    case 0: return { type: 'ping', seq: seq(), target: id(), updates: updates() }
    case 1: return { type: 'ping-req', seq: seq(), target: id(), targetAddrs: [addrOf(id())], nack: rng.next() < 0.5, updates: updates() }
    case 2: return { type: 'ack', seq: seq(), updates: updates() }
    case 3: return { type: 'nack', seq: seq(), reason: rng.pick(['refused', 'timeout', 'error'] as const), updates: updates() }
    case 4: return {
      type: 'sync',
      reply: rng.next() < 0.5,
      join: rng.next() < 0.3,
      members: Array.from({ length: rng.int(6) }, () => {
        const status = rng.pick(['alive', 'suspect', 'failed', 'left'] as const)
        return { ...ann(), ...sig(), status, ...(rng.next() < 0.2 ? { signedIncarnation: inc() } : {}), ...(status === 'left' && rng.next() < 0.3 ? { forcedBy: id() } : {}) }
      })
    }
    case 5: return { type: 'digest', members: rng.int(100), hash: rng.int(2 ** 53) }
    default: return { type: 'gossip', updates: updates() }
  }
}

describe('fuzz: SWIM wire decoder and the core behind it', () => {
  let corpus: Uint8Array[] = []
  let core: Membership
  let now = 0

  before(() => {
    corpus = recordCorpus()
    const types = new Set(corpus.map(b => decodeMessage(b).type))
    assert.ok(types.size >= 5, `corpus covers ${[...types].join(', ')}`)
    core = createMembership({
      self: { id: ID(20), name: 'fuzzed', addrs: [addrOf(ID(20))], tags: {}, incarnation: 0, bootId: 'fz' },
      config: fromPartial({}, 'lan'),
      random: seededRandom(1),
      now: 0,
      signer: fakeSigner(ID(20))
    })
  })

  it('random, mutated and spliced frames: a valid message or MalformedMessageError; the core never throws', async () => {
    let decoded = 0
    await runFuzz('codec', (rng, i) => {
      const input = i % 5 === 0
        ? (() => { const b = rng.bytes(rng.int(96)); if (b.length > 0 && rng.next() < 0.8) b[0] = WIRE_VERSION; return b })()
        : i % 5 === 1
          ? encodeMessage(randomMessage(rng))
          : mutate(rng, rng.pick(corpus), corpus, rng.next() < 0.95 ? 1 : 0)
      let msg: Message
      try {
        msg = decodeMessage(input)
      } catch (err) {
        if (err instanceof MalformedMessageError) return
        throw err
      }
      decoded++
      validateMessage(msg)
      assert.deepStrictEqual(decodeMessage(encodeMessage(msg)), msg)
      now += rng.int(300)
      const from = rng.next() < 0.5 ? ID(rng.int(6)) : ID(10 + rng.int(3))
      core.receive(now, from, msg)
      if ((i & 63) === 0) core.tick(now)
    })
    const applied = core.stats().updatesApplied
    console.log(`# fuzz codec: ${decoded} inputs decoded and fed to the core, ${applied} updates applied`)
    assert.ok(decoded > 0, 'some mutations still decode (else the fuzz only tests the first bytes)')
  })

  it('length-prefixed framing: mutated, re-chunked streams yield frames or one of the errors the transport counts', async () => {
    // gossip/swim-inbound.ts (readFrames) counts these names as malformed or oversized.
    const known = new Set(['InvalidDataLengthError', 'InvalidMessageLengthError', 'InvalidDataLengthLengthError', 'UnexpectedEOFError'])
    const maxDataLength = 4096
    await runFuzz('framing', async (rng) => {
      const frames = Array.from({ length: 1 + rng.int(4) }, () => lp.encode.single(rng.pick(corpus)).subarray())
      let stream = concat(...frames)
      if (rng.next() < 0.8) stream = mutate(rng, stream, frames)
      const chunks: Uint8Array[] = []
      for (let at = 0; at < stream.length;) {
        const n = 1 + rng.int(64)
        chunks.push(stream.subarray(at, at + n))
        at += n
      }
      try {
        for await (const frame of lp.decode(chunks, { maxDataLength })) {
          assert.ok(frame.byteLength <= maxDataLength)
        }
      } catch (err) {
        if (!known.has((err as Error)?.name)) throw err
      }
    })
  })
})
