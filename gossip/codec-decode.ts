/**
 * The SWIM decoder: protobuf `Envelope` body -> `Message`, as documented in
 * `swim.proto`. Strict: anything that is not a structurally valid message
 * throws MalformedMessageError. Every reader call is followed by a bounds
 * check against the end of the enclosing message, because protons' reader
 * does not check every read. `decodeMessage` (codec.ts) validates the result.
 */
import type { Reader } from 'protons-runtime'
import type {
  DeliveryFailure, FailureCause, MemberStatus, Message, SyncEntry, Update
} from '../membership/types.ts'
import { CODEC_LIMITS, fail } from './codec-limits.ts'
import { DELIVERY_FAILURE, ENVELOPE, FAILURE_CAUSE, MEMBER_STATUS, UPDATE, WT_LEN, WT_VARINT } from './codec-tables.ts'
import type { DecodedMember } from './codec-tables.ts'


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

/** A copy of a bytes field (the reader's buffer is reused by the stream). */
function readBytes (r: Reader, wireType: number, end: number, maxBytes: number, what: string): Uint8Array {
  const fieldEnd = readLength(r, wireType, end, what)
  if (fieldEnd - r.pos > maxBytes) fail(`${what}: longer than ${maxBytes} bytes`)
  if (fieldEnd === r.pos) fail(`${what}: empty`)
  // A copy, never a view: over TCP the frame is a Buffer, whose slice() shares
  // the read chunk, and a kept signature would pin the whole chunk in memory.
  const bytes = Uint8Array.prototype.slice.call(r.buf, r.pos, fieldEnd)
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

/** Decodes one message body: `seq`, `updates` and the fields specific to its type. */
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
  let digestMembers = 0
  let digestHash = 0
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
      case 'digest':
        switch (field) {
          case 1: once(field); digestMembers = readUint(r, wt, 'digest.members'); return true
          case 2: once(field); digestHash = readUint(r, wt, 'digest.hash'); return true
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
    case 'digest': return { type, members: digestMembers, hash: digestHash }
  }
}

const ENVELOPE_TYPES = Object.entries(ENVELOPE) as Array<[Message['type'], number]>

/** Reads one `Envelope` ending at `end`: exactly one message must be set. */
export function decodeEnvelope (r: Reader, end: number): Message {
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
