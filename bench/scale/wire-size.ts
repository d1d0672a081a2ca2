/**
 * The size in bytes of a SWIM message on the wire, without encoding it: the
 * length prefix, the version byte and the protobuf envelope of
 * gossip/codec.ts, field by field (what the transport counts as bytesOut).
 * Yamux and noise framing come on top and are not counted.
 *
 * Encoding every simulated message would cost more than simulating it; this
 * walks the same fields with no allocation. test/sim/scale.test.ts checks it
 * against encodeMessage() on the messages of a real simulated run, so a codec
 * change that this file misses fails a test.
 */
import type { Message, SyncEntry, Update } from '../../membership/index.ts'

/** Bytes of an unsigned varint. */
export function varintSize (value: number): number {
  let n = 1
  while (value >= 128) {
    value = Math.floor(value / 128)
    n++
  }
  return n
}

/**
 * UTF-8 sizes of the strings seen so far: the same ids, names and addresses
 * recur in every message, and a string caches its hash, so a lookup is
 * cheaper than counting again.
 */
const utf8Sizes = new Map<string, number>()
const UTF8_CACHE_MAX = 1 << 20

function utf8Size (s: string): number {
  let bytes = utf8Sizes.get(s)
  if (bytes != null) return bytes
  bytes = countUtf8(s)
  if (utf8Sizes.size >= UTF8_CACHE_MAX) utf8Sizes.clear()
  utf8Sizes.set(s, bytes)
  return bytes
}

function countUtf8 (s: string): number {
  let bytes = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) bytes += 1
    else if (c >= 0xd800 && c <= 0xdfff) bytes += 1 // each half of a surrogate pair: 4 bytes for the two
    else bytes += 2
  }
  return bytes
}

/** A length-delimited field of `n` bytes (every field number here is < 16: a one-byte key). */
const delimited = (n: number): number => 1 + varintSize(n) + n
const str = (s: string): number => s === '' ? 0 : delimited(utf8Size(s))
const uint = (v: number): number => v === 0 ? 0 : 1 + varintSize(v)
const bytes = (b: Uint8Array | undefined): number => b == null || b.byteLength === 0 ? 0 : delimited(b.byteLength)
/** An enum is written even when it is the first value (values start at 1). */
const ENUM = 2

interface Announced {
  id: string
  name: string
  addrs: string[]
  tags: Record<string, string>
  incarnation: number
  bootId: string
  signature?: Uint8Array
  signedIncarnation?: number
}

function memberSize (m: Announced, withStatus: boolean): number {
  let n = str(m.id) + str(m.name) + str(m.bootId) + uint(m.incarnation) + bytes(m.signature)
  for (const addr of m.addrs) n += delimited(utf8Size(addr))
  for (const key in m.tags) n += delimited(str(key) + str(m.tags[key]))
  if (withStatus) n += ENUM
  if (m.signedIncarnation != null) n += 1 + varintSize(m.signedIncarnation)
  return n
}

function updateSize (u: Update): number {
  let inner: number
  switch (u.type) {
    case 'alive': inner = memberSize(u, false); break
    case 'suspect': inner = str(u.id) + uint(u.incarnation) + str(u.from) + bytes(u.signature); break
    case 'dead': inner = str(u.id) + uint(u.incarnation) + str(u.from) + ENUM + bytes(u.signature); break
    case 'leave': inner = str(u.id) + uint(u.incarnation) + bytes(u.signature); break
  }
  return delimited(delimited(inner))
}

function updatesSize (updates: Update[]): number {
  let n = 0
  for (const u of updates) n += updateSize(u)
  return n
}

function syncSize (members: SyncEntry[]): number {
  let n = 0
  for (const e of members) n += delimited(memberSize(e, true))
  return n
}

/** Bytes of the protobuf body of `msg` (inside the envelope). */
function bodySize (msg: Message): number {
  switch (msg.type) {
    case 'ping': return uint(msg.seq) + str(msg.target) + updatesSize(msg.updates)
    case 'ping-req': {
      let n = uint(msg.seq) + str(msg.target) + (msg.nack ? 2 : 0) + updatesSize(msg.updates)
      for (const addr of msg.targetAddrs) n += delimited(utf8Size(addr))
      return n
    }
    case 'ack': return uint(msg.seq) + updatesSize(msg.updates)
    case 'nack': return uint(msg.seq) + ENUM + updatesSize(msg.updates)
    case 'sync': return (msg.reply ? 2 : 0) + (msg.join ? 2 : 0) + syncSize(msg.members)
    case 'gossip': return updatesSize(msg.updates)
    case 'digest': return uint(msg.members) + uint(msg.hash)
  }
}

/** Bytes of the frame body: the version byte and the envelope (encodeMessage(msg).byteLength). */
export function messageSize (msg: Message): number {
  return 1 + delimited(bodySize(msg))
}

/** Bytes of the frame as sent: the length prefix and the body. */
export function frameSize (msg: Message): number {
  const body = messageSize(msg)
  return varintSize(body) + body
}
