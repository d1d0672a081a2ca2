/**
 * gossip/codec: round trips of every message type and the bounds on what is
 * encoded and accepted. Also the transport config's defaults and validation.
 * The seeded fuzz of the decoder lives in test/fuzz/codec.test.ts.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { writer } from 'protons-runtime'
import {
  MESSAGE_LIMITS, MalformedMessageError, UnsupportedVersionError, WIRE_VERSION,
  decodeMessage, encodeMessage, validateMessage
} from '../../gossip/codec.ts'
import { DEFAULT_TRANSPORT_CONFIG, fromPartial } from '../../gossip/config.ts'
import type { TransportConfig } from '../../gossip/config.ts'
import type { Message, SyncEntry, Update } from '../../membership/types.ts'

const A = '12D3KooWPkVCUCuubKwUVt88XFw3LTsVkJeH64giU6bM8X1LPfAN'
const B = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const C = 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'

const alive: Update = {
  type: 'alive', id: A, name: 'node-a', addrs: ['/ip4/10.0.0.1/tcp/7946', '/ip4/10.0.0.1/tcp/7947/ws'],
  tags: { role: 'worker', zone: 'eu-1' }, incarnation: 3, bootId: 'b00t-1'
}
const updates: Update[] = [
  alive,
  { type: 'suspect', id: B, incarnation: 0, from: A },
  { type: 'dead', id: C, incarnation: 7, from: B, cause: 'crash' },
  { type: 'dead', id: C, incarnation: 8, from: B, cause: 'unreachable' },
  { type: 'dead', id: C, incarnation: 9, from: B, cause: 'partition' },
  { type: 'dead', id: C, incarnation: 10, from: B, cause: 'left' },
  { type: 'leave', id: A, incarnation: Number.MAX_SAFE_INTEGER }
]
const entry = (status: SyncEntry['status'], extra: Partial<SyncEntry> = {}): SyncEntry => ({
  id: A, name: 'a', addrs: ['/ip4/127.0.0.1/tcp/1'], tags: {}, incarnation: 1, bootId: 'x', status, ...extra
})

const roundTrips: Array<[string, Message]> = [
  ['ping without updates', { type: 'ping', seq: 0, target: B, updates: [] }],
  ['ping with every update kind', { type: 'ping', seq: 42, target: B, updates }],
  ['ping-req with nack', { type: 'ping-req', seq: 1, target: C, targetAddrs: ['/ip4/10.0.0.3/tcp/7946'], nack: true, updates: [] }],
  ['ping-req without nack or addrs', { type: 'ping-req', seq: 2 ** 40, target: C, targetAddrs: [], nack: false, updates: [alive] }],
  ['ack empty', { type: 'ack', seq: 0, updates: [] }],
  ['ack with updates', { type: 'ack', seq: 9, updates }],
  ['nack refused', { type: 'nack', seq: 5, reason: 'refused', updates: [] }],
  ['nack timeout', { type: 'nack', seq: 5, reason: 'timeout', updates: [] }],
  ['nack error', { type: 'nack', seq: 5, reason: 'error', updates: [alive] }],
  ['sync empty', { type: 'sync', reply: false, join: false, members: [] }],
  ['sync join reply, every status', {
    type: 'sync',
    reply: true,
    join: true,
    members: [entry('alive'), entry('suspect', { id: B }), entry('failed', { id: C, tags: { k: '' } }), entry('left', { name: '' })]
  }],
  ['gossip empty', { type: 'gossip', updates: [] }],
  ['digest empty view hash 0', { type: 'digest', members: 0, hash: 0 }],
  ['digest of 53 bits', { type: 'digest', members: 10_000, hash: Number.MAX_SAFE_INTEGER }],
  ['signed alive and leave claims', {
    type: 'gossip',
    updates: [{ ...alive, signature: new Uint8Array(64).fill(7) }, { type: 'leave', id: A, incarnation: 4, signature: Uint8Array.of(1, 2, 3) },
      { type: 'suspect', id: B, incarnation: 2, from: A, signature: new Uint8Array(64).fill(3) },
      { type: 'dead', id: C, incarnation: 3, from: B, cause: 'crash', signature: new Uint8Array(64).fill(4) }]
  }],
  ['a forced leave', {
    type: 'gossip',
    updates: [{ type: 'leave', id: A, incarnation: 4, from: B, signature: new Uint8Array(64).fill(5) }]
  }],
  ['a sync entry retired by force-leave', { type: 'sync', reply: false, join: false, members: [entry('left', { forcedBy: B, signature: new Uint8Array(64).fill(6) })] }],
  ['sync entries with signatures and a signed incarnation', {
    type: 'sync',
    reply: false,
    join: false,
    members: [entry('alive', { signature: new Uint8Array(64).fill(1) }), entry('suspect', { id: B, incarnation: 5, signature: new Uint8Array(64), signedIncarnation: 4 }),
      // a signed incarnation of 0 is present, not protobuf's default: the signature covers 0, not 3
      entry('suspect', { id: 'D', incarnation: 3, signature: new Uint8Array(64).fill(2), signedIncarnation: 0 }),
      entry('left', { id: C, signature: new Uint8Array(MESSAGE_LIMITS.maxSignatureBytes).fill(9) })]
  }],
  ['gossip with updates', { type: 'gossip', updates }],
  ['unicode, BOM and empty strings', {
    type: 'gossip',
    updates: [{ ...alive, name: '\uFEFFnœud-ü-😀', tags: { 'clé': 'välue 😀', empty: '' }, bootId: '', addrs: [] }]
  }],
  ['limits exactly reached', {
    type: 'gossip',
    updates: [{
      ...alive,
      id: 'Q'.repeat(MESSAGE_LIMITS.maxIdBytes),
      name: 'n'.repeat(MESSAGE_LIMITS.maxNameBytes),
      bootId: 'b'.repeat(MESSAGE_LIMITS.maxBootIdBytes),
      addrs: Array.from({ length: MESSAGE_LIMITS.maxAddrs }, (_, i) => `/dns4/${'h'.repeat(MESSAGE_LIMITS.maxAddrBytes - 20)}/tcp/${1000 + i}`.slice(0, MESSAGE_LIMITS.maxAddrBytes)),
      tags: Object.fromEntries(Array.from({ length: MESSAGE_LIMITS.maxTags }, (_, i) => [`${i}`.padEnd(MESSAGE_LIMITS.maxTagBytes, 'k'), 'v'.repeat(MESSAGE_LIMITS.maxTagBytes)]))
    }]
  }]
]

function assertMalformed (fn: () => unknown, message?: string): void {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof MalformedMessageError, `expected MalformedMessageError, got ${err?.name}: ${err?.message}`)
    return true
  }, message)
}

describe('gossip codec: round trip', () => {
  for (const [name, msg] of roundTrips) {
    it(`decode(encode(msg)) equals msg: ${name}`, () => {
      const bytes = encodeMessage(msg)
      assert.equal(bytes[0], WIRE_VERSION)
      assert.deepStrictEqual(decodeMessage(bytes), msg)
    })
  }

  it('a tag named __proto__ stays an own key and does not touch the prototype', () => {
    const tags = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>
    const msg: Message = { type: 'gossip', updates: [{ ...alive, tags }] }
    const decoded = decodeMessage(encodeMessage(msg))
    assert.equal(decoded.type, 'gossip')
    const out = (decoded as { updates: Array<{ tags: Record<string, string> }> }).updates[0].tags
    assert.equal(Object.getPrototypeOf(out), Object.prototype)
    assert.deepEqual(Object.keys(out).sort(), ['__proto__', 'a'])
    assert.equal(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, 'x')
  })

  it('a full sync of 2,000 realistic members fits in the default 1 MiB maxMessageBytes', () => {
    const members: SyncEntry[] = Array.from({ length: 2000 }, (_, i) => ({
      id: `12D3KooW${String(i).padStart(44, 'A')}`,
      name: `worker-${i}.rack-${i % 40}.example.internal`,
      addrs: [`/ip4/10.${i >> 8}.${i & 255}.7/tcp/7946`, `/ip4/10.${i >> 8}.${i & 255}.7/tcp/7947/ws`],
      tags: { role: 'worker', zone: `zone-${i % 3}`, version: '0.1.0' },
      incarnation: i * 17,
      bootId: crypto.randomUUID(),
      status: 'alive'
    }))
    const bytes = encodeMessage({ type: 'sync', reply: true, join: false, members })
    assert.ok(bytes.byteLength < 1024 * 1024, `sync of 2,000 members is ${bytes.byteLength} bytes`)
    assert.equal((decodeMessage(bytes) as { members: unknown[] }).members.length, 2000)
  })
})

describe('gossip codec: encode rejects what a peer would reject', () => {
  const bad: Array<[string, unknown]> = [
    ['unknown type', { type: 'hello', updates: [] }],
    ['not an object', 'ping'],
    ['negative seq', { type: 'ack', seq: -1, updates: [] }],
    ['fractional seq', { type: 'ack', seq: 1.5, updates: [] }],
    ['NaN seq', { type: 'ack', seq: NaN, updates: [] }],
    ['unsafe seq', { type: 'ack', seq: 2 ** 53, updates: [] }],
    ['empty target', { type: 'ping', seq: 1, target: '', updates: [] }],
    ['target with a slash', { type: 'ping', seq: 1, target: 'a/b', updates: [] }],
    ['target too long', { type: 'ping', seq: 1, target: 'a'.repeat(MESSAGE_LIMITS.maxIdBytes + 1), updates: [] }],
    ['updates not an array', { type: 'gossip', updates: {} }],
    ['digest hash not an integer', { type: 'digest', members: 3, hash: 1.5 }],
    ['digest without a count', { type: 'digest', hash: 7 }],
    ['too many updates', { type: 'gossip', updates: Array.from({ length: MESSAGE_LIMITS.maxUpdates + 1 }, () => updates[1]) }],
    ['unknown update type', { type: 'gossip', updates: [{ type: 'resurrect', id: A, incarnation: 1 }] }],
    ['unknown cause', { type: 'gossip', updates: [{ type: 'dead', id: A, incarnation: 1, from: B, cause: 'boredom' }] }],
    ['name too long', { type: 'gossip', updates: [{ ...alive, name: 'é'.repeat(MESSAGE_LIMITS.maxNameBytes / 2 + 1) }] }],
    ['lone surrogate in name', { type: 'gossip', updates: [{ ...alive, name: 'a\uD800b' }] }],
    ['too many addrs', { type: 'gossip', updates: [{ ...alive, addrs: Array.from({ length: MESSAGE_LIMITS.maxAddrs + 1 }, () => '/ip4/1.2.3.4/tcp/1') }] }],
    ['addr too long', { type: 'gossip', updates: [{ ...alive, addrs: ['/' + 'a'.repeat(MESSAGE_LIMITS.maxAddrBytes)] }] }],
    ['addr without leading slash', { type: 'gossip', updates: [{ ...alive, addrs: ['ip4/1.2.3.4/tcp/1'] }] }],
    ['addr with a space', { type: 'gossip', updates: [{ ...alive, addrs: ['/ip4/1.2.3.4/tcp/1 '] }] }],
    ['too many tags', { type: 'gossip', updates: [{ ...alive, tags: Object.fromEntries(Array.from({ length: MESSAGE_LIMITS.maxTags + 1 }, (_, i) => [`k${i}`, 'v'])) }] }],
    ['tag value too long', { type: 'gossip', updates: [{ ...alive, tags: { k: 'v'.repeat(MESSAGE_LIMITS.maxTagBytes + 1) } }] }],
    ['empty tag key', { type: 'gossip', updates: [{ ...alive, tags: { '': 'v' } }] }],
    ['non-string tag value', { type: 'gossip', updates: [{ ...alive, tags: { k: 1 } }] }],
    ['bootId too long', { type: 'gossip', updates: [{ ...alive, bootId: 'b'.repeat(MESSAGE_LIMITS.maxBootIdBytes + 1) }] }],
    ['signature too long', { type: 'gossip', updates: [{ ...alive, signature: new Uint8Array(MESSAGE_LIMITS.maxSignatureBytes + 1) }] }],
    ['empty signature', { type: 'gossip', updates: [{ type: 'leave', id: A, incarnation: 1, signature: new Uint8Array(0) }] }],
    ['signature not bytes', { type: 'gossip', updates: [{ ...alive, signature: 'sig' }] }],
    ['forced leave from not an id', { type: 'gossip', updates: [{ type: 'leave', id: A, incarnation: 1, from: 'a b' }] }],
    ['forcedBy on an entry not left', { type: 'sync', reply: false, join: false, members: [entry('alive', { forcedBy: B })] }],
    ['signedIncarnation not a counter', { type: 'sync', reply: false, join: false, members: [entry('suspect', { signedIncarnation: -1 })] }],
    ['unknown nack reason', { type: 'nack', seq: 1, reason: 'lost', updates: [] }],
    ['nack without reason', { type: 'nack', seq: 1, updates: [] }],
    ['ping-req nack not boolean', { type: 'ping-req', seq: 1, target: A, targetAddrs: [], nack: 1, updates: [] }],
    ['sync entry without status', { type: 'sync', reply: false, join: false, members: [{ ...entry('alive'), status: undefined }] }],
    ['sync entry with unknown status', { type: 'sync', reply: false, join: false, members: [entry('zombie' as 'alive')] }],
    ['too many sync members', { type: 'sync', reply: false, join: false, members: Array.from({ length: MESSAGE_LIMITS.maxSyncMembers + 1 }, () => entry('alive')) }]
  ]
  for (const [name, msg] of bad) {
    it(`throws MalformedMessageError: ${name}`, () => {
      assertMalformed(() => encodeMessage(msg as Message))
      assertMalformed(() => { validateMessage(msg) })
    })
  }
})

/** Hand-built protobuf, to reach what our encoder never produces. */
function frame (build: (w: ReturnType<typeof writer>) => void): Uint8Array {
  const w = writer()
  w.uint32(WIRE_VERSION)
  build(w)
  return w.finish()
}
const nested = (w: ReturnType<typeof writer>, field: number, build: () => void): void => {
  w.uint32((field << 3) | 2).fork()
  build()
  w.ldelim()
}
const str = (w: ReturnType<typeof writer>, field: number, s: string): void => { w.uint32((field << 3) | 2).string(s) }
const bytesField = (w: ReturnType<typeof writer>, field: number, b: Uint8Array): void => { w.uint32((field << 3) | 2).bytes(b) }
const varint = (w: ReturnType<typeof writer>, field: number, n: bigint): void => { w.uint32(field << 3).uint64(n) }

describe('gossip codec: decode rejects invalid input with the named error', () => {
  it('an unknown wire version is UnsupportedVersionError (a MalformedMessageError)', () => {
    for (const version of [0, 2, 0x7f, 0x80, 0xff]) {
      const bytes = encodeMessage({ type: 'ack', seq: 1, updates: [] })
      bytes[0] = version
      assert.throws(() => decodeMessage(bytes), (err: Error) => {
        assert.equal(err.name, 'UnsupportedVersionError')
        assert.ok(err instanceof UnsupportedVersionError)
        assert.ok(err instanceof MalformedMessageError)
        assert.equal((err as UnsupportedVersionError).version, version)
        return true
      })
    }
  })

  it('every strict prefix of a valid message is malformed', () => {
    for (const [, msg] of roundTrips.slice(0, 14)) {
      const bytes = encodeMessage(msg)
      for (let n = 0; n < bytes.byteLength; n++) {
        assertMalformed(() => decodeMessage(bytes.subarray(0, n)), `prefix ${n}/${bytes.byteLength}`)
      }
    }
  })

  it('a non-Uint8Array is malformed', () => {
    assertMalformed(() => decodeMessage('hello' as unknown as Uint8Array))
    assertMalformed(() => decodeMessage(null as unknown as Uint8Array))
  })

  const cases: Array<[string, Uint8Array]> = [
    ['version byte only', Uint8Array.of(WIRE_VERSION)],
    ['seq above 2^53 - 1', frame(w => nested(w, 3, () => { varint(w, 1, 2n ** 53n) }))],
    ['seq of 2^64 - 1', frame(w => nested(w, 3, () => { varint(w, 1, 2n ** 64n - 1n) }))],
    ['nack reason 0 (unspecified)', frame(w => nested(w, 4, () => { varint(w, 2, 0n) }))],
    ['nack reason 9', frame(w => nested(w, 4, () => { varint(w, 2, 9n) }))],
    ['nack without reason', frame(w => nested(w, 4, () => { varint(w, 1, 1n) }))],
    ['ping without target', frame(w => nested(w, 1, () => { varint(w, 1, 1n) }))],
    ['invalid UTF-8 in target', frame(w => nested(w, 1, () => { bytesField(w, 2, Uint8Array.of(0xc3, 0x28)) }))],
    ['target too long on the wire', frame(w => nested(w, 1, () => { str(w, 2, 'a'.repeat(MESSAGE_LIMITS.maxIdBytes + 1)) }))],
    ['target with forbidden characters', frame(w => nested(w, 1, () => { str(w, 2, '../etc') }))],
    ['seq with the wrong wire type', frame(w => nested(w, 3, () => { str(w, 1, 'one') }))],
    ['update with no kind', frame(w => nested(w, 6, () => { nested(w, 1, () => {}) }))],
    ['alive update carrying a status', frame(w => nested(w, 6, () => {
      nested(w, 1, () => { nested(w, 1, () => { str(w, 1, A); varint(w, 7, 1n) }) })
    }))],
    ['sync entry without status', frame(w => nested(w, 5, () => { nested(w, 3, () => { str(w, 1, A) }) }))],
    ['dead without cause', frame(w => nested(w, 6, () => { nested(w, 1, () => { nested(w, 3, () => { str(w, 1, A); str(w, 3, B) }) }) }))],
    ['too many addrs on the wire', frame(w => nested(w, 2, () => {
      str(w, 2, A)
      for (let i = 0; i <= MESSAGE_LIMITS.maxAddrs; i++) str(w, 3, '/ip4/1.1.1.1/tcp/1')
    }))],
    ['too many updates on the wire', frame(w => nested(w, 6, () => {
      for (let i = 0; i <= MESSAGE_LIMITS.maxUpdates; i++) nested(w, 1, () => { nested(w, 4, () => { str(w, 1, A) }) })
    }))],
    ['nested length past the end', Uint8Array.of(WIRE_VERSION, (3 << 3) | 2, 10, 8, 1)],
    ['field number 0', Uint8Array.of(WIRE_VERSION, 2, 0)],
    ['wire type 7', Uint8Array.of(WIRE_VERSION, (3 << 3) | 2, 1, (7 << 3) | 7)],
    ['varint of 11 bytes', Uint8Array.of(WIRE_VERSION, (3 << 3) | 2, 12, 8, ...Array(10).fill(0xff), 1)],
    ['length varint running off the end', Uint8Array.of(WIRE_VERSION, (3 << 3) | 2, 0xff, 0xff)]
  ]
  for (const [name, bytes] of cases) {
    it(`throws MalformedMessageError: ${name}`, () => { assertMalformed(() => decodeMessage(bytes)) })
  }

  // Where protobuf itself is lenient, so is the generated decoder; swim.proto
  // lists these. Nothing here can forge anything: signatures cover the decoded values.
  it('decodes as protobuf does: a singular field twice keeps the last value', () => {
    const msg = decodeMessage(frame(w => nested(w, 3, () => { varint(w, 1, 1n); varint(w, 1, 2n) })))
    assert.deepEqual(msg, { type: 'ack', seq: 2, updates: [] })
  })

  it('decodes as protobuf does: a map keeps the later of two entries with one key', () => {
    const msg = decodeMessage(frame(w => nested(w, 6, () => {
      nested(w, 1, () => {
        nested(w, 1, () => {
          str(w, 1, A)
          nested(w, 4, () => { str(w, 1, 'k'); str(w, 2, 'v1') })
          nested(w, 4, () => { str(w, 1, 'k'); str(w, 2, 'v2') })
        })
      })
    })))
    assert.equal(msg.type, 'gossip')
    assert.deepEqual(msg.type === 'gossip' && msg.updates[0]?.type === 'alive' ? msg.updates[0].tags : undefined, { k: 'v2' })
  })

  it('decodes as protobuf does: a nonzero boolean is true', () => {
    assert.deepEqual(decodeMessage(frame(w => nested(w, 5, () => { varint(w, 1, 2n) }))), { type: 'sync', reply: true, join: false, members: [] })
  })

  it('decodes as protobuf does: a oneof with two members set keeps one of them', () => {
    const envelope = decodeMessage(frame(w => { nested(w, 3, () => {}); nested(w, 6, () => {}) }))
    assert.ok(envelope.type === 'ack' || envelope.type === 'gossip', envelope.type)
    const msg = decodeMessage(frame(w => nested(w, 6, () => {
      nested(w, 1, () => {
        nested(w, 4, () => { str(w, 1, A) })
        nested(w, 2, () => { str(w, 1, A); str(w, 3, B) })
      })
    })))
    assert.equal(msg.type === 'gossip' ? msg.updates.length : -1, 1)
    assert.ok(msg.type === 'gossip' && ['leave', 'suspect'].includes(msg.updates[0].type))
  })

  it('decodes as protobuf does: an unknown group is skipped', () => {
    assert.deepEqual(decodeMessage(Uint8Array.of(WIRE_VERSION, (3 << 3) | 2, 2, (7 << 3) | 3, (7 << 3) | 4)), { type: 'ack', seq: 0, updates: [] })
  })

  it('unknown fields are skipped (forward compatibility within version 1)', () => {
    const bytes = frame(w => {
      nested(w, 3, () => {
        varint(w, 1, 7n)
        varint(w, 15, 99n)
        str(w, 16, 'future')
        w.uint32((17 << 3) | 5).fixed32(1)
        w.uint32((18 << 3) | 1).fixed64(1n)
      })
      str(w, 20, 'future envelope field')
    })
    assert.deepStrictEqual(decodeMessage(bytes), { type: 'ack', seq: 7, updates: [] })
  })
})

describe('gossip transport config', () => {
  it('fromPartial fills the documented defaults', () => {
    const config = fromPartial()
    assert.deepEqual(config, { ...DEFAULT_TRANSPORT_CONFIG })
    assert.equal(config.maxMessageBytes, 1024 * 1024)
    assert.equal(config.dialTimeoutMs, 2000)
    assert.equal(fromPartial({ dialTimeoutMs: 500, maxMessageBytes: undefined }).dialTimeoutMs, 500)
    assert.equal(fromPartial({ gossipDialYieldMs: 0 }).gossipDialYieldMs, 0, '0 turns the wait for the peer\'s dial off')
    assert.equal(fromPartial({ gossipDialSettleMs: 0 }).gossipDialSettleMs, 0, '0 turns the wait for the ring off')
  })

  const bad: Array<[string, Record<string, unknown>]> = [
    ['zero timeout', { dialTimeoutMs: 0 }],
    ['negative limit', { maxInboundStreamsPerPeer: -1 }],
    ['fractional size', { maxMessageBytes: 2048.5 }],
    ['not a number', { dialTimeoutMs: '2000' }],
    ['message bound below 1 KiB', { maxMessageBytes: 100 }],
    ['queue smaller than one message', { maxMessageBytes: 4096, maxQueuedBytesPerPeer: 2048 }],
    ['a sync in parts smaller than one frame', { maxMessageBytes: 4096, maxSyncBytes: 2048 }],
    ['room for all syncs in parts smaller than one', { maxSyncBytes: 2 * 1024 * 1024, maxHeldSyncBytes: 1024 * 1024 }],
    ['unknown option', { dialTimeout: 2000 }],
    ['negative gossip dial yield', { gossipDialYieldMs: -1 }],
    ['fractional gossip dial yield', { gossipDialYieldMs: 0.5 }],
    ['negative gossip dial settle', { gossipDialSettleMs: -1 }]
  ]
  for (const [name, partial] of bad) {
    it(`rejects ${name} with InvalidTransportConfigError`, () => {
      assert.throws(() => fromPartial(partial as Partial<TransportConfig>), { name: 'InvalidTransportConfigError' })
    })
  }
})
