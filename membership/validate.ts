/**
 * Structural checks on inbound messages. The transport already validates what
 * it decodes; the core checks again because it must never throw on, or store,
 * an implausible value (a negative incarnation, an empty id, NaN...).
 * Invalid messages are dropped whole and counted in stats.messagesIgnored.
 */
import type { MemberStatus, Message, SyncEntry, Update } from './types.ts'

const STATUSES: ReadonlySet<string> = new Set<MemberStatus>(['alive', 'suspect', 'failed', 'left'])
const CAUSES: ReadonlySet<string> = new Set(['crash', 'unreachable', 'partition', 'left'])
const REASONS: ReadonlySet<string> = new Set(['refused', 'timeout', 'error'])

/** Upper bound on list fields, far above anything legitimate. */
const MAX_LIST = 100_000

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isId (v: unknown): v is string {
  return typeof v === 'string' && v.length > 0
}

/** A non-negative safe integer (incarnations and sequence numbers). */
export function isCounter (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function isStringArray (v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= MAX_LIST && v.every(s => typeof s === 'string')
}

function isTags (v: unknown): v is Record<string, string> {
  return isObject(v) && Object.values(v).every(s => typeof s === 'string')
}

/** Signatures are opaque bytes (signatures.ts), bounded. */
function isOptionalSignature (v: unknown): boolean {
  return v === undefined || (v instanceof Uint8Array && v.byteLength <= 1024)
}

function isAnnouncement (v: Record<string, unknown>): boolean {
  return isId(v.id) && typeof v.name === 'string' && isStringArray(v.addrs) && isTags(v.tags) &&
    isCounter(v.incarnation) && typeof v.bootId === 'string'
}

export function isValidUpdate (v: unknown): v is Update {
  if (!isObject(v)) return false
  switch (v.type) {
    case 'alive': return isAnnouncement(v) && isOptionalSignature(v.signature)
    case 'suspect': return isId(v.id) && isCounter(v.incarnation) && isId(v.from) && isOptionalSignature(v.signature)
    case 'dead': return isId(v.id) && isCounter(v.incarnation) && isId(v.from) && typeof v.cause === 'string' && CAUSES.has(v.cause) &&
      isOptionalSignature(v.signature)
    case 'leave': return isId(v.id) && isCounter(v.incarnation) && isOptionalSignature(v.signature)
    default: return false
  }
}

function isSyncEntry (v: unknown): v is SyncEntry {
  return isObject(v) && isAnnouncement(v) && typeof v.status === 'string' && STATUSES.has(v.status) &&
    isOptionalSignature(v.signature) && (v.signedIncarnation === undefined || isCounter(v.signedIncarnation))
}

function isUpdates (v: unknown): v is Update[] {
  return Array.isArray(v) && v.length <= MAX_LIST && v.every(isValidUpdate)
}

export function isValidMessage (v: unknown): v is Message {
  if (!isObject(v)) return false
  switch (v.type) {
    case 'ping': return isCounter(v.seq) && isId(v.target) && isUpdates(v.updates)
    case 'ping-req': return isCounter(v.seq) && isId(v.target) && isStringArray(v.targetAddrs) &&
      typeof v.nack === 'boolean' && isUpdates(v.updates)
    case 'ack': return isCounter(v.seq) && isUpdates(v.updates)
    case 'nack': return isCounter(v.seq) && typeof v.reason === 'string' && REASONS.has(v.reason) && isUpdates(v.updates)
    case 'sync': return typeof v.reply === 'boolean' && typeof v.join === 'boolean' &&
      Array.isArray(v.members) && v.members.length <= MAX_LIST && v.members.every(isSyncEntry)
    case 'gossip': return isUpdates(v.updates)
    case 'digest': return isCounter(v.members) && isCounter(v.hash)
    default: return false
  }
}
