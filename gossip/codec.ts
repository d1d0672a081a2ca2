/**
 * The SWIM wire codec: `Message` <-> bytes, as documented in `swim.proto`.
 *
 * Hand-written on top of protons-runtime's writer and reader because the code
 * protons generates uses TypeScript enums and namespaces, which Node's type
 * stripping rejects. A frame is one version byte (WIRE_VERSION) followed by a
 * protobuf `Envelope`.
 *
 * The decoder is strict: anything that is not a structurally valid message
 * throws MalformedMessageError (or its subclass UnsupportedVersionError), never
 * another exception, and every decoded message passes `validateMessage`, the
 * same check the encoder applies, so the membership core never sees a message
 * with an unknown type, a non-integer number or an unbounded string or list.
 */
import { encodeMessage as encodeProtobuf, decodeMessage as decodeProtobuf, message } from 'protons-runtime'
import type { Codec, Reader, Writer } from 'protons-runtime'
import type {
  DeliveryFailure, FailureCause, MemberAnnouncement, MemberStatus, Message, SyncEntry, Update
} from '../membership/types.ts'

/** The wire version this codec writes and the only one it reads. */
export const WIRE_VERSION = 1

/** Bounds enforced on every encoded and decoded message. Sizes are UTF-8 bytes. */
export const CODEC_LIMITS = Object.freeze({
  /** Member ids are libp2p peer id strings: 1..128 ASCII letters and digits. */
  maxIdBytes: 128,
  maxNameBytes: 256,
  maxBootIdBytes: 128,
  maxAddrs: 32,
  maxAddrBytes: 512,
  maxTags: 64,
  /** Bound on each tag key and on each tag value. */
  maxTagBytes: 256,
  /** Updates piggybacked on one message. */
  maxUpdates: 1024,
  /** Entries of one `sync`. */
  maxSyncMembers: 16384,
  /** A claim signature (ed25519: 64 bytes; room for other key types). */
  maxSignatureBytes: 1024,
})

/** The bytes are not a valid SWIM message. `name` is checked by the transport and tests. */
export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError'
}

/** The first byte names a wire version this codec does not speak. */
export class UnsupportedVersionError extends MalformedMessageError {
  override name = 'UnsupportedVersionError'
  readonly version: number
  constructor (version: number) {
    super(`unsupported wire version ${version} (this node speaks ${WIRE_VERSION})`)
    this.version = version
  }
}

// ---------------------------------------------------------------------------
// Field numbers and enum values (see swim.proto). Never renumber.

const WT_VARINT = 0
const WT_LEN = 2

const ENVELOPE = { ping: 1, 'ping-req': 2, ack: 3, nack: 4, sync: 5, gossip: 6 } as const
const UPDATE = { alive: 1, suspect: 2, dead: 3, leave: 4 } as const

const MEMBER_STATUS: readonly MemberStatus[] = ['alive', 'suspect', 'failed', 'left']
const FAILURE_CAUSE: readonly FailureCause[] = ['crash', 'unreachable', 'partition', 'left']
const DELIVERY_FAILURE: readonly DeliveryFailure[] = ['refused', 'timeout', 'error']

// ---------------------------------------------------------------------------
// Public API

/** Encodes a message; throws MalformedMessageError if it breaks a bound (the remote would reject it). */
export function encodeMessage (msg: Message): Uint8Array {
  validateMessage(msg)
  const body = encodeProtobuf(msg, envelopeCodec)
  const frame = new Uint8Array(body.byteLength + 1)
  frame[0] = WIRE_VERSION
  frame.set(body, 1)
  return frame
}

/**
 * Decodes and validates one frame body (without the length prefix). Throws
 * UnsupportedVersionError for another wire version and MalformedMessageError
 * for anything else that is wrong; never any other exception.
 */
export function decodeMessage (bytes: Uint8Array): Message {
  if (!(bytes instanceof Uint8Array)) throw new MalformedMessageError('expected a Uint8Array')
  if (bytes.byteLength === 0) throw new MalformedMessageError('empty message')
  if (bytes[0] !== WIRE_VERSION) throw new UnsupportedVersionError(bytes[0])
  let msg: Message
  try {
    msg = decodeProtobuf(bytes.subarray(1), envelopeCodec)
  } catch (err) {
    if (err instanceof MalformedMessageError) throw err
    throw new MalformedMessageError(`undecodable message: ${(err as Error)?.message ?? String(err)}`, { cause: err })
  }
  validateMessage(msg)
  return msg
}

// ---------------------------------------------------------------------------
// Validation: the same rules for what we send and what we accept.

/** Throws MalformedMessageError unless `msg` is a structurally valid Message within CODEC_LIMITS. */
export function validateMessage (msg: unknown): asserts msg is Message {
  if (msg == null || typeof msg !== 'object') fail('message is not an object')
  const m = msg as Record<string, unknown>
  switch (m.type) {
    case 'ping':
      checkUint(m.seq, 'ping.seq')
      checkId(m.target, 'ping.target')
      checkUpdates(m.updates, 'ping.updates')
      return
    case 'ping-req':
      checkUint(m.seq, 'ping-req.seq')
      checkId(m.target, 'ping-req.target')
      checkAddrs(m.targetAddrs, 'ping-req.targetAddrs')
      checkBool(m.nack, 'ping-req.nack')
      checkUpdates(m.updates, 'ping-req.updates')
      return
    case 'ack':
      checkUint(m.seq, 'ack.seq')
      checkUpdates(m.updates, 'ack.updates')
      return
    case 'nack':
      checkUint(m.seq, 'nack.seq')
      checkEnum(m.reason, DELIVERY_FAILURE, 'nack.reason')
      checkUpdates(m.updates, 'nack.updates')
      return
    case 'sync': {
      checkBool(m.reply, 'sync.reply')
      checkBool(m.join, 'sync.join')
      const members = m.members
      if (!Array.isArray(members)) fail('sync.members is not an array')
      if (members.length > CODEC_LIMITS.maxSyncMembers) fail(`sync.members has more than ${CODEC_LIMITS.maxSyncMembers} entries`)
      for (let i = 0; i < members.length; i++) {
        const entry = members[i] as Record<string, unknown>
        if (entry == null || typeof entry !== 'object') fail(`sync.members[${i}] is not an object`)
        checkAnnouncement(entry, `sync.members[${i}]`)
        checkEnum(entry.status, MEMBER_STATUS, `sync.members[${i}].status`)
        if (entry.signedIncarnation !== undefined) checkUint(entry.signedIncarnation, `sync.members[${i}].signedIncarnation`)
      }
      return
    }
    case 'gossip':
      checkUpdates(m.updates, 'gossip.updates')
      return
    default:
      fail(`unknown message type ${JSON.stringify(String(m.type)).slice(0, 40)}`)
  }
}

function fail (why: string): never {
  throw new MalformedMessageError(why)
}

function checkUpdates (updates: unknown, what: string): void {
  if (!Array.isArray(updates)) fail(`${what} is not an array`)
  if (updates.length > CODEC_LIMITS.maxUpdates) fail(`${what} has more than ${CODEC_LIMITS.maxUpdates} entries`)
  for (let i = 0; i < updates.length; i++) {
    const u = updates[i] as Record<string, unknown>
    const where = `${what}[${i}]`
    if (u == null || typeof u !== 'object') fail(`${where} is not an object`)
    switch (u.type) {
      case 'alive':
        checkAnnouncement(u, where)
        break
      case 'suspect':
        checkId(u.id, `${where}.id`)
        checkUint(u.incarnation, `${where}.incarnation`)
        checkId(u.from, `${where}.from`)
        checkSignature(u.signature, `${where}.signature`)
        break
      case 'dead':
        checkId(u.id, `${where}.id`)
        checkUint(u.incarnation, `${where}.incarnation`)
        checkId(u.from, `${where}.from`)
        checkEnum(u.cause, FAILURE_CAUSE, `${where}.cause`)
        checkSignature(u.signature, `${where}.signature`)
        break
      case 'leave':
        checkId(u.id, `${where}.id`)
        checkUint(u.incarnation, `${where}.incarnation`)
        checkSignature(u.signature, `${where}.signature`)
        break
      default:
        fail(`${where} has an unknown update type`)
    }
  }
}

function checkSignature (s: unknown, what: string): void {
  if (s === undefined) return
  if (!(s instanceof Uint8Array) || s.byteLength === 0 || s.byteLength > CODEC_LIMITS.maxSignatureBytes) {
    fail(`${what} is not 1..${CODEC_LIMITS.maxSignatureBytes} bytes`)
  }
}

function checkAnnouncement (a: Record<string, unknown>, what: string): void {
  checkSignature(a.signature, `${what}.signature`)
  checkId(a.id, `${what}.id`)
  checkString(a.name, CODEC_LIMITS.maxNameBytes, `${what}.name`)
  checkAddrs(a.addrs, `${what}.addrs`)
  checkTags(a.tags, `${what}.tags`)
  checkUint(a.incarnation, `${what}.incarnation`)
  checkString(a.bootId, CODEC_LIMITS.maxBootIdBytes, `${what}.bootId`)
}

const ID_PATTERN = /^[A-Za-z0-9]+$/

function checkId (id: unknown, what: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > CODEC_LIMITS.maxIdBytes || !ID_PATTERN.test(id)) {
    fail(`${what} is not a peer id (1..${CODEC_LIMITS.maxIdBytes} letters and digits)`)
  }
}

/** Multiaddr strings: '/'-led, no whitespace or control characters. Parsing happens at dial time. */
const ADDR_PATTERN = /^\/[^\u0000-\u0020\u007f]*$/

function checkAddrs (addrs: unknown, what: string): void {
  if (!Array.isArray(addrs)) fail(`${what} is not an array`)
  if (addrs.length > CODEC_LIMITS.maxAddrs) fail(`${what} has more than ${CODEC_LIMITS.maxAddrs} entries`)
  for (let i = 0; i < addrs.length; i++) {
    const addr: unknown = addrs[i]
    checkString(addr, CODEC_LIMITS.maxAddrBytes, `${what}[${i}]`)
    if (!ADDR_PATTERN.test(addr as string)) fail(`${what}[${i}] is not a multiaddr string`)
  }
}

function checkTags (tags: unknown, what: string): void {
  if (tags == null || typeof tags !== 'object' || Array.isArray(tags)) fail(`${what} is not an object`)
  const entries = Object.entries(tags)
  if (entries.length > CODEC_LIMITS.maxTags) fail(`${what} has more than ${CODEC_LIMITS.maxTags} entries`)
  for (const [key, value] of entries) {
    checkString(key, CODEC_LIMITS.maxTagBytes, `${what} key`)
    if (key.length === 0) fail(`${what} has an empty key`)
    checkString(value, CODEC_LIMITS.maxTagBytes, `${what}[${JSON.stringify(key.slice(0, 32))}]`)
  }
}

function checkString (s: unknown, maxBytes: number, what: string): void {
  if (typeof s !== 'string') fail(`${what} is not a string`)
  // a UTF-16 code unit is 1..3 UTF-8 bytes: only count when it could matter
  if (s.length * 3 > maxBytes && utf8ByteLength(s) > maxBytes) fail(`${what} is longer than ${maxBytes} bytes`)
  if (!isWellFormed(s)) fail(`${what} is not well-formed Unicode`)
}

function checkUint (n: unknown, what: string): void {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail(`${what} is not a non-negative safe integer`)
}

function checkBool (b: unknown, what: string): void {
  if (typeof b !== 'boolean') fail(`${what} is not a boolean`)
}

function checkEnum (value: unknown, allowed: readonly string[], what: string): void {
  if (typeof value !== 'string' || !allowed.includes(value)) fail(`${what} is not one of ${allowed.join(', ')}`)
}

function utf8ByteLength (s: string): number {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes
}

/** No lone surrogates: such a string cannot be encoded as UTF-8 and would not round-trip. */
function isWellFormed (s: string): boolean {
  return (s as unknown as { isWellFormed: () => boolean }).isWellFormed()
}

// ---------------------------------------------------------------------------
// Encoding (proto3 style: zero numbers, false booleans and empty strings are omitted)

function tagOf (field: number, wireType: number): number {
  return (field << 3) | wireType
}

function writeUint (w: Writer, field: number, value: number): void {
  if (value !== 0) w.uint32(tagOf(field, WT_VARINT)).uint64Number(value)
}

function writeBool (w: Writer, field: number, value: boolean): void {
  if (value) w.uint32(tagOf(field, WT_VARINT)).bool(true)
}

function writeEnum (w: Writer, field: number, table: readonly string[], value: string): void {
  w.uint32(tagOf(field, WT_VARINT)).uint32(table.indexOf(value) + 1)
}

function writeString (w: Writer, field: number, value: string): void {
  if (value !== '') w.uint32(tagOf(field, WT_LEN)).string(value)
}

function writeNested (w: Writer, field: number, encode: () => void): void {
  w.uint32(tagOf(field, WT_LEN)).fork()
  encode()
  w.ldelim()
}

function writeUpdates (w: Writer, field: number, updates: Update[]): void {
  for (const u of updates) writeNested(w, field, () => { encodeUpdate(w, u) })
}

function writeBytes (w: Writer, field: number, value: Uint8Array | undefined): void {
  if (value != null && value.byteLength > 0) w.uint32(tagOf(field, WT_LEN)).bytes(value)
}

function encodeMember (w: Writer, m: DecodedMember, status?: MemberStatus): void {
  writeString(w, 1, m.id)
  writeString(w, 2, m.name)
  for (const addr of m.addrs) w.uint32(tagOf(3, WT_LEN)).string(addr)
  for (const [key, value] of Object.entries(m.tags)) {
    writeNested(w, 4, () => {
      writeString(w, 1, key)
      writeString(w, 2, value)
    })
  }
  writeUint(w, 5, m.incarnation)
  writeString(w, 6, m.bootId)
  if (status != null) writeEnum(w, 7, MEMBER_STATUS, status)
  writeBytes(w, 8, m.signature)
  if (m.signedIncarnation != null) w.uint32(tagOf(9, WT_VARINT)).uint64Number(m.signedIncarnation)
}

function encodeUpdate (w: Writer, u: Update): void {
  switch (u.type) {
    case 'alive':
      writeNested(w, UPDATE.alive, () => { encodeMember(w, u) })
      return
    case 'suspect':
      writeNested(w, UPDATE.suspect, () => {
        writeString(w, 1, u.id)
        writeUint(w, 2, u.incarnation)
        writeString(w, 3, u.from)
        writeBytes(w, 4, u.signature)
      })
      return
    case 'dead':
      writeNested(w, UPDATE.dead, () => {
        writeString(w, 1, u.id)
        writeUint(w, 2, u.incarnation)
        writeString(w, 3, u.from)
        writeEnum(w, 4, FAILURE_CAUSE, u.cause)
        writeBytes(w, 5, u.signature)
      })
      return
    case 'leave':
      writeNested(w, UPDATE.leave, () => {
        writeString(w, 1, u.id)
        writeUint(w, 2, u.incarnation)
        writeBytes(w, 3, u.signature)
      })
  }
}

function encodeEnvelope (w: Writer, msg: Message): void {
  switch (msg.type) {
    case 'ping':
      writeNested(w, ENVELOPE.ping, () => {
        writeUint(w, 1, msg.seq)
        writeString(w, 2, msg.target)
        writeUpdates(w, 3, msg.updates)
      })
      return
    case 'ping-req':
      writeNested(w, ENVELOPE['ping-req'], () => {
        writeUint(w, 1, msg.seq)
        writeString(w, 2, msg.target)
        for (const addr of msg.targetAddrs) w.uint32(tagOf(3, WT_LEN)).string(addr)
        writeBool(w, 4, msg.nack)
        writeUpdates(w, 5, msg.updates)
      })
      return
    case 'ack':
      writeNested(w, ENVELOPE.ack, () => {
        writeUint(w, 1, msg.seq)
        writeUpdates(w, 2, msg.updates)
      })
      return
    case 'nack':
      writeNested(w, ENVELOPE.nack, () => {
        writeUint(w, 1, msg.seq)
        writeEnum(w, 2, DELIVERY_FAILURE, msg.reason)
        writeUpdates(w, 3, msg.updates)
      })
      return
    case 'sync':
      writeNested(w, ENVELOPE.sync, () => {
        writeBool(w, 1, msg.reply)
        writeBool(w, 2, msg.join)
        for (const entry of msg.members) writeNested(w, 3, () => { encodeMember(w, entry, entry.status) })
      })
      return
    case 'gossip':
      writeNested(w, ENVELOPE.gossip, () => { writeUpdates(w, 1, msg.updates) })
  }
}

// ---------------------------------------------------------------------------
// Decoding. Every reader call is followed by a bounds check against the end of
// the enclosing message, because protons' reader does not check every read.

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Reads the fields of one message ending at `end`. `visit` returns false for
 * a field number it does not know; such fields are skipped (forward
 * compatibility) unless their wire type is a group or invalid.
 */
function readFields (r: Reader, end: number, what: string, visit: (field: number, wireType: number) => boolean): void {
  while (r.pos < end) {
    const key = r.uint32()
    const field = key >>> 3
    const wireType = key & 7
    if (field === 0) fail(`${what}: field number 0`)
    if (!visit(field, wireType)) {
      if (wireType !== 0 && wireType !== 1 && wireType !== 2 && wireType !== 5) fail(`${what}: unsupported wire type ${wireType}`)
      r.skipType(wireType)
    }
    if (r.pos > end) fail(`${what}: field ${field} runs past the end of the message`)
  }
  if (r.pos !== end) fail(`${what}: truncated`)
}

/** Rejects a second occurrence of a singular field. */
function singular (what: string): (field: number) => void {
  let seen = 0
  return field => {
    const bit = 1 << field
    if ((seen & bit) !== 0) fail(`${what}: field ${field} repeated`)
    seen |= bit
  }
}

function expect (wireType: number, expected: number, what: string): void {
  if (wireType !== expected) fail(`${what}: wire type ${wireType}, expected ${expected}`)
}

function readUint (r: Reader, wireType: number, what: string): number {
  expect(wireType, WT_VARINT, what)
  const value = r.uint64()
  if (value > MAX_SAFE) fail(`${what}: ${value} is larger than 2^53 - 1`)
  return Number(value)
}

function readBool (r: Reader, wireType: number, what: string): boolean {
  const value = readUint(r, wireType, what)
  if (value > 1) fail(`${what}: boolean ${value}`)
  return value === 1
}

function readEnum<T extends string> (r: Reader, wireType: number, table: readonly T[], what: string): T {
  const value = readUint(r, wireType, what)
  const name = table[value - 1]
  if (value === 0 || name == null) fail(`${what}: unknown enum value ${value}`)
  return name
}

/** Start and end of a length-delimited field, checked against the enclosing end. */
function readLength (r: Reader, wireType: number, end: number, what: string): number {
  expect(wireType, WT_LEN, what)
  const length = r.uint32()
  const fieldEnd = r.pos + length
  if (fieldEnd > end) fail(`${what}: length ${length} runs past the end of the message`)
  return fieldEnd
}

function readString (r: Reader, wireType: number, end: number, maxBytes: number, what: string): string {
  const fieldEnd = readLength(r, wireType, end, what)
  if (fieldEnd - r.pos > maxBytes) fail(`${what}: longer than ${maxBytes} bytes`)
  const bytes = r.buf.subarray(r.pos, fieldEnd)
  r.pos = fieldEnd
  try {
    return utf8.decode(bytes)
  } catch {
    fail(`${what}: invalid UTF-8`)
  }
}

function readId (r: Reader, wireType: number, end: number, what: string): string {
  return readString(r, wireType, end, CODEC_LIMITS.maxIdBytes, what)
}

/** Reads a nested message of `decode` and checks that it consumed exactly its length. */
function readNested<T> (r: Reader, wireType: number, end: number, what: string, decode: (r: Reader, end: number) => T): T {
  const fieldEnd = readLength(r, wireType, end, what)
  const value = decode(r, fieldEnd)
  if (r.pos !== fieldEnd) fail(`${what}: nested message length mismatch`)
  return value
}

function pushBounded<T> (list: T[], value: T, max: number, what: string): void {
  if (list.length >= max) fail(`${what}: more than ${max} entries`)
  list.push(value)
}

interface DecodedMember extends MemberAnnouncement {
  status?: MemberStatus
  signature?: Uint8Array
  signedIncarnation?: number
}

/** A copy of a bytes field (the reader's buffer is reused by the stream). */
function readBytes (r: Reader, wireType: number, end: number, maxBytes: number, what: string): Uint8Array {
  const fieldEnd = readLength(r, wireType, end, what)
  if (fieldEnd - r.pos > maxBytes) fail(`${what}: longer than ${maxBytes} bytes`)
  if (fieldEnd === r.pos) fail(`${what}: empty`)
  const bytes = r.buf.slice(r.pos, fieldEnd)
  r.pos = fieldEnd
  return bytes
}

function decodeMember (r: Reader, end: number): DecodedMember {
  const once = singular('member')
  let id = ''
  let name = ''
  const addrs: string[] = []
  const tags: Array<[string, string]> = []
  const tagKeys = new Set<string>()
  let incarnation = 0
  let bootId = ''
  let status: MemberStatus | undefined
  let signature: Uint8Array | undefined
  let signedIncarnation: number | undefined
  readFields(r, end, 'member', (field, wt) => {
    switch (field) {
      case 1: once(field); id = readId(r, wt, end, 'member.id'); return true
      case 2: once(field); name = readString(r, wt, end, CODEC_LIMITS.maxNameBytes, 'member.name'); return true
      case 3: pushBounded(addrs, readString(r, wt, end, CODEC_LIMITS.maxAddrBytes, 'member.addrs'), CODEC_LIMITS.maxAddrs, 'member.addrs'); return true
      case 4: {
        const [key, value] = readNested(r, wt, end, 'member.tags', decodeTag)
        if (tagKeys.has(key)) fail('member.tags: duplicate key')
        tagKeys.add(key)
        pushBounded(tags, [key, value], CODEC_LIMITS.maxTags, 'member.tags')
        return true
      }
      case 5: once(field); incarnation = readUint(r, wt, 'member.incarnation'); return true
      case 6: once(field); bootId = readString(r, wt, end, CODEC_LIMITS.maxBootIdBytes, 'member.bootId'); return true
      case 7: once(field); status = readEnum(r, wt, MEMBER_STATUS, 'member.status'); return true
      case 8: once(field); signature = readBytes(r, wt, end, CODEC_LIMITS.maxSignatureBytes, 'member.signature'); return true
      case 9: once(field); signedIncarnation = readUint(r, wt, 'member.signedIncarnation'); return true
      default: return false
    }
  })
  // Object.fromEntries defines own properties, so a key like "__proto__" stays a plain key.
  const member: DecodedMember = { id, name, addrs, tags: Object.fromEntries(tags), incarnation, bootId }
  if (status != null) member.status = status
  if (signature != null) member.signature = signature
  if (signedIncarnation != null) member.signedIncarnation = signedIncarnation
  return member
}

function decodeTag (r: Reader, end: number): [string, string] {
  const once = singular('tag')
  let key = ''
  let value = ''
  readFields(r, end, 'tag', (field, wt) => {
    switch (field) {
      case 1: once(field); key = readString(r, wt, end, CODEC_LIMITS.maxTagBytes, 'tag.key'); return true
      case 2: once(field); value = readString(r, wt, end, CODEC_LIMITS.maxTagBytes, 'tag.value'); return true
      default: return false
    }
  })
  return [key, value]
}

function decodeUpdate (r: Reader, end: number): Update {
  let update: Update | undefined
  const set = (u: Update): true => {
    if (update != null) fail('update: more than one kind set')
    update = u
    return true
  }
  readFields(r, end, 'update', (field, wt) => {
    switch (field) {
      case UPDATE.alive: {
        const { status, signedIncarnation, ...announcement } = readNested(r, wt, end, 'update.alive', decodeMember)
        if (status != null) fail('update.alive: unexpected status')
        if (signedIncarnation != null) fail('update.alive: unexpected signedIncarnation')
        return set({ type: 'alive', ...announcement })
      }
      case UPDATE.suspect: return set(readNested(r, wt, end, 'update.suspect', decodeSuspect))
      case UPDATE.dead: return set(readNested(r, wt, end, 'update.dead', decodeDead))
      case UPDATE.leave: return set(readNested(r, wt, end, 'update.leave', decodeLeave))
      default: return false
    }
  })
  if (update == null) fail('update: no kind set')
  return update
}

function decodeSuspect (r: Reader, end: number): Update {
  const once = singular('suspect')
  let id = ''
  let incarnation = 0
  let from = ''
  let signature: Uint8Array | undefined
  readFields(r, end, 'suspect', (field, wt) => {
    switch (field) {
      case 1: once(field); id = readId(r, wt, end, 'suspect.id'); return true
      case 2: once(field); incarnation = readUint(r, wt, 'suspect.incarnation'); return true
      case 3: once(field); from = readId(r, wt, end, 'suspect.from'); return true
      case 4: once(field); signature = readBytes(r, wt, end, CODEC_LIMITS.maxSignatureBytes, 'suspect.signature'); return true
      default: return false
    }
  })
  return signature == null ? { type: 'suspect', id, incarnation, from } : { type: 'suspect', id, incarnation, from, signature }
}

function decodeDead (r: Reader, end: number): Update {
  const once = singular('dead')
  let id = ''
  let incarnation = 0
  let from = ''
  let cause: FailureCause | undefined
  let signature: Uint8Array | undefined
  readFields(r, end, 'dead', (field, wt) => {
    switch (field) {
      case 1: once(field); id = readId(r, wt, end, 'dead.id'); return true
      case 2: once(field); incarnation = readUint(r, wt, 'dead.incarnation'); return true
      case 3: once(field); from = readId(r, wt, end, 'dead.from'); return true
      case 4: once(field); cause = readEnum(r, wt, FAILURE_CAUSE, 'dead.cause'); return true
      case 5: once(field); signature = readBytes(r, wt, end, CODEC_LIMITS.maxSignatureBytes, 'dead.signature'); return true
      default: return false
    }
  })
  if (cause == null) fail('dead: no cause')
  return signature == null ? { type: 'dead', id, incarnation, from, cause } : { type: 'dead', id, incarnation, from, cause, signature }
}

function decodeLeave (r: Reader, end: number): Update {
  const once = singular('leave')
  let id = ''
  let incarnation = 0
  let signature: Uint8Array | undefined
  readFields(r, end, 'leave', (field, wt) => {
    switch (field) {
      case 1: once(field); id = readId(r, wt, end, 'leave.id'); return true
      case 2: once(field); incarnation = readUint(r, wt, 'leave.incarnation'); return true
      case 3: once(field); signature = readBytes(r, wt, end, CODEC_LIMITS.maxSignatureBytes, 'leave.signature'); return true
      default: return false
    }
  })
  return signature == null ? { type: 'leave', id, incarnation } : { type: 'leave', id, incarnation, signature }
}

/** Decodes `seq`, `updates` and message-specific fields of one probe-family message. */
function decodeBody (r: Reader, end: number, type: Message['type']): Message {
  const what = type
  const once = singular(what)
  let seq = 0
  let target = ''
  const targetAddrs: string[] = []
  let nack = false
  let reason: DeliveryFailure | undefined
  let reply = false
  let join = false
  const members: SyncEntry[] = []
  const updates: Update[] = []
  const addUpdate = (wt: number): true => {
    pushBounded(updates, readNested(r, wt, end, `${what}.updates`, decodeUpdate), CODEC_LIMITS.maxUpdates, `${what}.updates`)
    return true
  }
  readFields(r, end, what, (field, wt) => {
    switch (type) {
      case 'ping':
        switch (field) {
          case 1: once(field); seq = readUint(r, wt, 'ping.seq'); return true
          case 2: once(field); target = readId(r, wt, end, 'ping.target'); return true
          case 3: return addUpdate(wt)
          default: return false
        }
      case 'ping-req':
        switch (field) {
          case 1: once(field); seq = readUint(r, wt, 'ping-req.seq'); return true
          case 2: once(field); target = readId(r, wt, end, 'ping-req.target'); return true
          case 3:
            pushBounded(targetAddrs, readString(r, wt, end, CODEC_LIMITS.maxAddrBytes, 'ping-req.targetAddrs'), CODEC_LIMITS.maxAddrs, 'ping-req.targetAddrs')
            return true
          case 4: once(field); nack = readBool(r, wt, 'ping-req.nack'); return true
          case 5: return addUpdate(wt)
          default: return false
        }
      case 'ack':
        switch (field) {
          case 1: once(field); seq = readUint(r, wt, 'ack.seq'); return true
          case 2: return addUpdate(wt)
          default: return false
        }
      case 'nack':
        switch (field) {
          case 1: once(field); seq = readUint(r, wt, 'nack.seq'); return true
          case 2: once(field); reason = readEnum(r, wt, DELIVERY_FAILURE, 'nack.reason'); return true
          case 3: return addUpdate(wt)
          default: return false
        }
      case 'sync':
        switch (field) {
          case 1: once(field); reply = readBool(r, wt, 'sync.reply'); return true
          case 2: once(field); join = readBool(r, wt, 'sync.join'); return true
          case 3: {
            const member = readNested(r, wt, end, 'sync.members', decodeMember)
            if (member.status == null) fail('sync.members: entry without status')
            pushBounded(members, member as SyncEntry, CODEC_LIMITS.maxSyncMembers, 'sync.members')
            return true
          }
          default: return false
        }
      case 'gossip':
        switch (field) {
          case 1: return addUpdate(wt)
          default: return false
        }
    }
  })
  switch (type) {
    case 'ping': return { type, seq, target, updates }
    case 'ping-req': return { type, seq, target, targetAddrs, nack, updates }
    case 'ack': return { type, seq, updates }
    case 'nack':
      if (reason == null) fail('nack: no reason')
      return { type, seq, reason, updates }
    case 'sync': return { type, reply, join, members }
    case 'gossip': return { type, updates }
  }
}

const ENVELOPE_TYPES = Object.entries(ENVELOPE) as Array<[Message['type'], number]>

function decodeEnvelope (r: Reader, end: number): Message {
  let msg: Message | undefined
  readFields(r, end, 'envelope', (field, wt) => {
    const entry = ENVELOPE_TYPES.find(([, number]) => number === field)
    if (entry == null) return false
    if (msg != null) fail('envelope: more than one message set')
    msg = readNested(r, wt, end, entry[0], (r2, end2) => decodeBody(r2, end2, entry[0]))
    return true
  })
  if (msg == null) fail('envelope: no message set')
  return msg
}

const envelopeCodec: Codec<Message, Message> = message<Message, Message>(
  (msg, w, opts) => {
    const delimited = opts?.lengthDelimited !== false
    if (delimited) w.fork()
    encodeEnvelope(w, msg)
    if (delimited) w.ldelim()
  },
  (r, length) => decodeEnvelope(r, length == null ? r.len : r.pos + length),
  // eslint-disable-next-line require-yield
  function * () { throw new MalformedMessageError('streaming decode is not supported') }
)
