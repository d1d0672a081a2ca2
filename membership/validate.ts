/**
 * The one structural check of SWIM messages, the same rules for what a member
 * sends and what it accepts: the codec (gossip/codec.ts) runs it before
 * encoding and after decoding, and the core runs it on every message it is
 * given (the simulator and embedded tests hand it objects that never went
 * through a codec), so the core never stores or throws on an unknown type, a
 * non-integer number, an unbounded string or list. Invalid messages are
 * dropped whole and counted in stats.messagesIgnored.
 */
import type { DeliveryFailure, FailureCause, MemberStatus, Message } from './types.ts'

/** Bounds on every message. Sizes are UTF-8 bytes; gossip/swim.proto documents them on the wire. */
export const MESSAGE_LIMITS = Object.freeze({
  /** Member ids: 1..128 bytes (a libp2p peer id string is ~52). */
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
  /** A signature (ed25519: 64 bytes; room for other key types). */
  maxSignatureBytes: 1024,
})

const MEMBER_STATUS: readonly MemberStatus[] = ['alive', 'suspect', 'failed', 'left']
const FAILURE_CAUSE: readonly FailureCause[] = ['crash', 'unreachable', 'partition', 'left']
const DELIVERY_FAILURE: readonly DeliveryFailure[] = ['refused', 'timeout', 'error']

export class InvalidMessageError extends Error {
  override name = 'InvalidMessageError'
}

function fail (why: string): never {
  throw new InvalidMessageError(why)
}

/** True when `validateMessage` accepts `v`. */
export function isValidMessage (v: unknown): v is Message {
  try {
    validateMessage(v)
    return true
  } catch (err) {
    if (err instanceof InvalidMessageError) return false
    throw err
  }
}

/** Throws InvalidMessageError unless `msg` is a structurally valid Message within MESSAGE_LIMITS. */
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
      if (members.length > MESSAGE_LIMITS.maxSyncMembers) fail(`sync.members has more than ${MESSAGE_LIMITS.maxSyncMembers} entries`)
      for (let i = 0; i < members.length; i++) {
        const entry = members[i] as Record<string, unknown>
        if (entry == null || typeof entry !== 'object') fail(`sync.members[${i}] is not an object`)
        checkAnnouncement(entry, `sync.members[${i}]`)
        checkEnum(entry.status, MEMBER_STATUS, `sync.members[${i}].status`)
        if (entry.signedIncarnation !== undefined) checkUint(entry.signedIncarnation, `sync.members[${i}].signedIncarnation`)
        if (entry.forcedBy !== undefined) {
          checkId(entry.forcedBy, `sync.members[${i}].forcedBy`)
          if (entry.status !== 'left') fail(`sync.members[${i}].forcedBy on an entry not left`)
        }
      }
      return
    }
    case 'gossip':
      checkUpdates(m.updates, 'gossip.updates')
      return
    case 'digest':
      checkUint(m.members, 'digest.members')
      checkUint(m.hash, 'digest.hash')
      return
    default:
      fail(`unknown message type ${JSON.stringify(String(m.type)).slice(0, 40)}`)
  }
}

function checkUpdates (updates: unknown, what: string): void {
  if (!Array.isArray(updates)) fail(`${what} is not an array`)
  if (updates.length > MESSAGE_LIMITS.maxUpdates) fail(`${what} has more than ${MESSAGE_LIMITS.maxUpdates} entries`)
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
        if (u.from !== undefined) checkId(u.from, `${where}.from`)
        checkSignature(u.signature, `${where}.signature`)
        break
      default:
        fail(`${where} has an unknown update type`)
    }
  }
}

function checkSignature (s: unknown, what: string): void {
  if (s === undefined) return
  if (!(s instanceof Uint8Array) || s.byteLength === 0 || s.byteLength > MESSAGE_LIMITS.maxSignatureBytes) {
    fail(`${what} is not 1..${MESSAGE_LIMITS.maxSignatureBytes} bytes`)
  }
}

function checkAnnouncement (a: Record<string, unknown>, what: string): void {
  checkSignature(a.signature, `${what}.signature`)
  checkId(a.id, `${what}.id`)
  checkString(a.name, MESSAGE_LIMITS.maxNameBytes, `${what}.name`)
  checkAddrs(a.addrs, `${what}.addrs`)
  checkTags(a.tags, `${what}.tags`)
  checkUint(a.incarnation, `${what}.incarnation`)
  checkString(a.bootId, MESSAGE_LIMITS.maxBootIdBytes, `${what}.bootId`)
}

/** Letters, digits, '_' and '-': a libp2p peer id string is letters and digits; the simulator's ids have a dash. */
const ID_PATTERN = /^[A-Za-z0-9_-]+$/

function checkId (id: unknown, what: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > MESSAGE_LIMITS.maxIdBytes || !ID_PATTERN.test(id)) {
    fail(`${what} is not a member id (1..${MESSAGE_LIMITS.maxIdBytes} letters, digits, '_' or '-')`)
  }
}

/** Multiaddr strings: '/'-led, no whitespace or control characters. Parsing happens at dial time. */
const ADDR_PATTERN = /^\/[^\u0000-\u0020\u007f]*$/

function checkAddrs (addrs: unknown, what: string): void {
  if (!Array.isArray(addrs)) fail(`${what} is not an array`)
  if (addrs.length > MESSAGE_LIMITS.maxAddrs) fail(`${what} has more than ${MESSAGE_LIMITS.maxAddrs} entries`)
  for (let i = 0; i < addrs.length; i++) {
    const addr: unknown = addrs[i]
    checkString(addr, MESSAGE_LIMITS.maxAddrBytes, `${what}[${i}]`)
    if (!ADDR_PATTERN.test(addr as string)) fail(`${what}[${i}] is not a multiaddr string`)
  }
}

function checkTags (tags: unknown, what: string): void {
  if (tags == null || typeof tags !== 'object' || Array.isArray(tags)) fail(`${what} is not an object`)
  const entries = Object.entries(tags)
  if (entries.length > MESSAGE_LIMITS.maxTags) fail(`${what} has more than ${MESSAGE_LIMITS.maxTags} entries`)
  for (const [key, value] of entries) {
    checkString(key, MESSAGE_LIMITS.maxTagBytes, `${what} key`)
    if (key.length === 0) fail(`${what} has an empty key`)
    checkString(value, MESSAGE_LIMITS.maxTagBytes, `${what}[${JSON.stringify(key.slice(0, 32))}]`)
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
