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
import { CODEC_LIMITS, MalformedMessageError, WIRE_VERSION, decodeMessage, encodeMessage, validateMessage } from '../../gossip/codec.ts'
import { createMembership, fromPartial, seededRandom } from '../../membership/index.ts'
import type { Membership, Message } from '../../membership/index.ts'
import { fakeClaims } from '../sim/fake-claims.ts'
import { addrOf, Wire } from '../unit/membership-harness.ts'
import { concat, mutate, runFuzz } from './fuzz.ts'
import * as lp from 'it-length-prefixed'

const ID = (i: number): string => `12D3KooW${'ABCDEFGHJKLMNPQRSTUVWXYZ'[i]}${'1'.repeat(44)}`

function recordCorpus (): Uint8Array[] {
  const wire = new Wire({}, fakeClaims)
  const ids = [0, 1, 2, 3, 4].map(ID)
  for (const id of ids) wire.add(id)
  wire.joinAll()
  wire.input(ids[1], (core, now) => core.update(now, { tags: { role: 'db', zone: 'eu' } }))
  wire.silent.add(ids[2])
  wire.advance(20_000)
  wire.silent.delete(ids[2])
  wire.advance(5000)
  wire.input(ids[3], (core, now) => core.leave(now))
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
      type: 'alive', id: 'Q'.repeat(CODEC_LIMITS.maxIdBytes), name: 'n'.repeat(CODEC_LIMITS.maxNameBytes), bootId: 'b', incarnation: Number.MAX_SAFE_INTEGER,
      addrs: ['/ip4/1.2.3.4/tcp/1'], tags: { ['k'.repeat(CODEC_LIMITS.maxTagBytes)]: 'v' }, signature: new Uint8Array(CODEC_LIMITS.maxSignatureBytes)
    }, { type: 'dead', id: ID(0), incarnation: 1, from: ID(1), cause: 'partition' }]
  }
  corpus.push(encodeMessage(limits))
  return corpus
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
      claims: fakeClaims(ID(20))
    })
  })

  it('random, mutated and spliced frames: a valid message or MalformedMessageError; the core never throws', async () => {
    let decoded = 0
    await runFuzz('codec', (rng, i) => {
      const input = i % 5 === 0
        ? (() => { const b = rng.bytes(rng.int(96)); if (b.length > 0 && rng.next() < 0.8) b[0] = WIRE_VERSION; return b })()
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
    assert.ok(decoded > 0, 'some mutations still decode (else the fuzz only tests the first bytes)')
  })

  it('length-prefixed framing: mutated, re-chunked streams yield frames or one of the errors the transport counts', async () => {
    // gossip/swim-transport.ts readFrames counts these names as malformed or oversized.
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
