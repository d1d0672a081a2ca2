/**
 * A sync larger than one frame (gossip/sync-parts.ts): split into parts that
 * each fit and decode, flagged `more` but the last, and put together again
 * into the same sync; a receiver bounds what the parts of one sync may hold,
 * and what the parts of every stream hold together.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { decodeFrame, MalformedMessageError, MESSAGE_LIMITS } from '../../gossip/codec.ts'
import { encodeFrames, SyncParts, SyncPartsBudget, SyncTooLargeError } from '../../gossip/sync-parts.ts'
import type { Message, SyncEntry } from '../../membership/types.ts'

const ID = '12D3KooWPkVCUCuubKwUVt88XFw3LTsVkJeH64giU6bM8X1LPfAN'

function members (n: number): SyncEntry[] {
  return Array.from({ length: n }, (_, i) => ({ id: ID, name: `m${i}`, addrs: [`/ip4/10.0.${i >> 8}.${i & 255}/tcp/7946`], tags: { zone: 'eu-1' }, incarnation: i, bootId: 'boot', status: i % 7 === 0 ? 'failed' : 'alive' }))
}

type Sync = Extract<Message, { type: 'sync' }>

/** What a receiver does with the frames of one stream: the syncs it hands on. */
function receive (frames: Uint8Array[]): Sync[] {
  const parts = new SyncParts(new SyncPartsBudget(Infinity), Infinity)
  const whole: Sync[] = []
  for (const frame of frames) {
    const { msg, more } = decodeFrame(frame)
    assert.equal(msg.type, 'sync')
    const done = parts.add(msg as Sync, more, frame.byteLength)
    if (done != null) whole.push(done)
  }
  return whole
}

describe('gossip: a sync in parts', () => {
  it('a sync that fits is one frame, and anything but a sync is never split', () => {
    const small: Sync = { type: 'sync', reply: false, join: false, members: members(3) }
    assert.equal(encodeFrames(small, 1024 * 1024).length, 1)
    assert.deepEqual(receive(encodeFrames(small, 1024 * 1024)), [small])
    const gossip: Message = { type: 'gossip', updates: [{ type: 'suspect', id: ID, incarnation: 1, from: ID }] }
    assert.equal(encodeFrames(gossip, 10).length, 1, 'too large, but not a sync: the caller drops it as oversized')
  })

  it('a larger one goes in parts that each fit, and comes back as the same sync', () => {
    const sync: Sync = { type: 'sync', reply: true, join: true, members: members(2000) }
    const maxBytes = 20_000
    const frames = encodeFrames(sync, maxBytes)
    assert.ok(frames.length > 1)
    for (const frame of frames) assert.ok(frame.byteLength <= maxBytes, `${frame.byteLength} bytes`)
    assert.deepEqual(frames.map(f => decodeFrame(f).more), frames.map((_, i) => i < frames.length - 1))
    assert.deepEqual(receive(frames), [sync])
    assert.deepEqual(receive([...frames, ...frames]), [sync, sync], 'two in a row on one stream')
  })

  it('a member entry larger than a frame cannot be sent', () => {
    assert.throws(() => encodeFrames({ type: 'sync', reply: false, join: false, members: members(4) }, 40), MalformedMessageError)
  })

  it('parts that together hold more members than a sync may are refused', () => {
    const parts = new SyncParts(new SyncPartsBudget(Infinity), Infinity)
    const part: Sync = { type: 'sync', reply: false, join: false, members: members(MESSAGE_LIMITS.maxSyncMembers / 2) }
    assert.equal(parts.add(part, true, 1), undefined)
    assert.equal(parts.add(part, true, 1), undefined)
    assert.throws(() => parts.add({ ...part, members: members(1) }, false, 1), MalformedMessageError)
    assert.deepEqual(parts.add({ ...part, members: members(1) }, false, 1)?.members.length, 1, 'and starts afresh after')
  })

  it('parts that never end are refused past the bytes one sync may take', () => {
    const budget = new SyncPartsBudget(1000)
    const parts = new SyncParts(budget, 300)
    const part: Sync = { type: 'sync', reply: false, join: false, members: members(1) }
    assert.equal(parts.add(part, true, 100), undefined)
    assert.equal(parts.add(part, true, 100), undefined)
    assert.equal(budget.held, 200)
    assert.throws(() => parts.add(part, true, 101), SyncTooLargeError)
    assert.equal(budget.held, 0, 'what the refused sync held is let go')
    assert.equal(parts.add(part, true, 300), undefined, 'and the stream starts afresh after')
    assert.equal(parts.add(part, false, 0)?.members.length, 2)
  })

  it('the parts of every stream share one room: past it a stream is refused, and a finished or ended one frees its share', () => {
    const budget = new SyncPartsBudget(250)
    const a = new SyncParts(budget, 1000)
    const b = new SyncParts(budget, 1000)
    const part: Sync = { type: 'sync', reply: false, join: false, members: members(1) }
    assert.equal(a.add(part, true, 200), undefined)
    assert.throws(() => b.add(part, true, 100), SyncTooLargeError)
    assert.equal(b.add(part, false, 100)?.members.length, 1, 'a last part is not held: it goes through')
    assert.equal(a.add(part, false, 10)?.members.length, 2)
    assert.equal(budget.held, 0)
    assert.equal(b.add(part, true, 200), undefined)
    b.release()
    assert.equal(budget.held, 0, 'a stream that ended between parts')
  })
})
