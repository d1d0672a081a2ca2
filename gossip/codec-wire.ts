/**
 * The SWIM codec's adapter: the membership core's messages to the types that
 * protons generates from swim.proto (gossip/generated/swim.js) and back.
 * Shape only (oneofs, enums, presence, maps); the rules on values are
 * membership/validate.ts's, which codec.ts runs on both sides.
 */
import type {
  DeliveryFailure, FailureCause, MemberAnnouncement, MemberStatus, Message, SyncEntry, Update
} from '../membership/types.ts'
import { InvalidMessageError } from '../membership/validate.ts'
import {
  DeliveryFailure as WireDeliveryFailure, FailureCause as WireFailureCause, MemberStatus as WireMemberStatus
} from './generated/swim.js'
import type { Envelope, Member, Update as WireUpdate } from './generated/swim.js'

const STATUS_TO_WIRE: Record<MemberStatus, WireMemberStatus> = {
  alive: WireMemberStatus.MEMBER_STATUS_ALIVE,
  suspect: WireMemberStatus.MEMBER_STATUS_SUSPECT,
  failed: WireMemberStatus.MEMBER_STATUS_FAILED,
  left: WireMemberStatus.MEMBER_STATUS_LEFT,
}
const CAUSE_TO_WIRE: Record<FailureCause, WireFailureCause> = {
  crash: WireFailureCause.FAILURE_CAUSE_CRASH,
  unreachable: WireFailureCause.FAILURE_CAUSE_UNREACHABLE,
  partition: WireFailureCause.FAILURE_CAUSE_PARTITION,
  left: WireFailureCause.FAILURE_CAUSE_LEFT,
}
const REASON_TO_WIRE: Record<DeliveryFailure, WireDeliveryFailure> = {
  refused: WireDeliveryFailure.DELIVERY_FAILURE_REFUSED,
  timeout: WireDeliveryFailure.DELIVERY_FAILURE_TIMEOUT,
  error: WireDeliveryFailure.DELIVERY_FAILURE_ERROR,
}

/** The reverse of a table above; UNSPECIFIED (0, protobuf's "absent") maps to nothing. */
function reverse<K extends string, V> (table: Record<K, V>): Map<V, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as V, k as K]))
}
const STATUS_FROM_WIRE = reverse(STATUS_TO_WIRE)
const CAUSE_FROM_WIRE = reverse(CAUSE_TO_WIRE)
const REASON_FROM_WIRE = reverse(REASON_TO_WIRE)

const NO_BYTES = new Uint8Array(0)

function fail (why: string): never {
  throw new InvalidMessageError(why)
}

type SignedMember = MemberAnnouncement & { signature?: Uint8Array, signedIncarnation?: number, forcedBy?: string }

function memberToWire (m: SignedMember, status: WireMemberStatus): Member {
  return {
    id: m.id,
    name: m.name,
    addrs: m.addrs,
    tags: new Map(Object.entries(m.tags)),
    incarnation: m.incarnation,
    bootId: m.bootId,
    status,
    signature: (m.signature ?? NO_BYTES) as Uint8Array<ArrayBuffer>,
    signedIncarnation: m.signedIncarnation,
    forcedBy: m.forcedBy ?? ''
  }
}

function updateToWire (u: Update): WireUpdate {
  switch (u.type) {
    case 'alive': return { alive: memberToWire(u, WireMemberStatus.MEMBER_STATUS_UNSPECIFIED) }
    case 'suspect': return { suspect: { id: u.id, incarnation: u.incarnation, from: u.from, signature: signatureToWire(u.signature) } }
    case 'dead':
      return { dead: { id: u.id, incarnation: u.incarnation, from: u.from, cause: CAUSE_TO_WIRE[u.cause], signature: signatureToWire(u.signature) } }
    case 'leave': return { leave: { id: u.id, incarnation: u.incarnation, signature: signatureToWire(u.signature), from: u.from ?? '' } }
  }
}

function signatureToWire (signature: Uint8Array | undefined): Uint8Array<ArrayBuffer> {
  return (signature ?? NO_BYTES) as Uint8Array<ArrayBuffer>
}

export function toEnvelope (msg: Message): Envelope {
  switch (msg.type) {
    case 'ping': return { ping: { seq: msg.seq, target: msg.target, updates: msg.updates.map(updateToWire) } }
    case 'ping-req':
      return { pingReq: { seq: msg.seq, target: msg.target, targetAddrs: msg.targetAddrs, nack: msg.nack, updates: msg.updates.map(updateToWire) } }
    case 'ack': return { ack: { seq: msg.seq, updates: msg.updates.map(updateToWire) } }
    case 'nack': return { nack: { seq: msg.seq, reason: REASON_TO_WIRE[msg.reason], updates: msg.updates.map(updateToWire) } }
    case 'sync':
      return { sync: { reply: msg.reply, join: msg.join, more: false, members: msg.members.map(e => memberToWire(e, STATUS_TO_WIRE[e.status])) } }
    case 'gossip': return { gossip: { updates: msg.updates.map(updateToWire) } }
    case 'digest': return { digest: { members: msg.members, hash: msg.hash } }
  }
}

/** The one field of a oneof that is set; anything else is invalid. */
function oneOf<T extends object> (value: T, what: string): [keyof T, NonNullable<T[keyof T]>] {
  const set = Object.entries(value).filter(([, v]) => v != null)
  if (set.length !== 1) fail(`${what}: ${set.length} of its oneof fields set, expected exactly one`)
  return set[0] as [keyof T, NonNullable<T[keyof T]>]
}

/**
 * A copy, never a view: the reader hands out views of the frame, which over
 * TCP shares the read chunk, and a kept signature would pin the whole chunk.
 */
function signatureFromWire (bytes: Uint8Array): Uint8Array | undefined {
  return bytes.byteLength === 0 ? undefined : Uint8Array.prototype.slice.call(bytes)
}

function memberFromWire (m: Member): SignedMember {
  // Object.fromEntries defines own properties, so a key like "__proto__" stays a plain key.
  const member: SignedMember = { id: m.id, name: m.name, addrs: m.addrs, tags: Object.fromEntries(m.tags), incarnation: m.incarnation, bootId: m.bootId }
  const signature = signatureFromWire(m.signature)
  if (signature != null) member.signature = signature
  if (m.signedIncarnation != null) member.signedIncarnation = m.signedIncarnation
  return member
}

function updateFromWire (u: WireUpdate): Update {
  const [kind] = oneOf(u, 'update')
  if (u.alive != null) {
    if (u.alive.status !== WireMemberStatus.MEMBER_STATUS_UNSPECIFIED) fail('update.alive: unexpected status')
    if (u.alive.signedIncarnation != null) fail('update.alive: unexpected signedIncarnation')
    if (u.alive.forcedBy !== '') fail('update.alive: unexpected forcedBy')
    return { type: 'alive', ...memberFromWire(u.alive) }
  }
  if (u.suspect != null) return withSignature({ type: 'suspect', id: u.suspect.id, incarnation: u.suspect.incarnation, from: u.suspect.from }, u.suspect.signature)
  if (u.dead != null) {
    const cause = CAUSE_FROM_WIRE.get(u.dead.cause) ?? fail('update.dead: no cause')
    return withSignature({ type: 'dead', id: u.dead.id, incarnation: u.dead.incarnation, from: u.dead.from, cause }, u.dead.signature)
  }
  if (u.leave != null) {
    const leave: Update = { type: 'leave', id: u.leave.id, incarnation: u.leave.incarnation }
    if (u.leave.from !== '') leave.from = u.leave.from
    return withSignature(leave, u.leave.signature)
  }
  fail(`update: unknown kind ${String(kind)}`)
}

function withSignature<T extends Update> (update: T, bytes: Uint8Array): T {
  const signature = signatureFromWire(bytes)
  return signature == null ? update : { ...update, signature }
}

function syncEntryFromWire (m: Member): SyncEntry {
  const status = STATUS_FROM_WIRE.get(m.status) ?? fail('sync.members: entry without status')
  const entry: SyncEntry = { ...memberFromWire(m), status }
  // validateMessage (membership/validate.ts) refuses it on an entry not left, as on encode
  if (m.forcedBy !== '') entry.forcedBy = m.forcedBy
  return entry
}

export function fromEnvelope (env: Envelope): Message {
  const [kind] = oneOf(env, 'envelope')
  if (env.ping != null) return { type: 'ping', seq: env.ping.seq, target: env.ping.target, updates: env.ping.updates.map(updateFromWire) }
  if (env.pingReq != null) {
    const m = env.pingReq
    return { type: 'ping-req', seq: m.seq, target: m.target, targetAddrs: m.targetAddrs, nack: m.nack, updates: m.updates.map(updateFromWire) }
  }
  if (env.ack != null) return { type: 'ack', seq: env.ack.seq, updates: env.ack.updates.map(updateFromWire) }
  if (env.nack != null) {
    const reason = REASON_FROM_WIRE.get(env.nack.reason) ?? fail('nack: no reason')
    return { type: 'nack', seq: env.nack.seq, reason, updates: env.nack.updates.map(updateFromWire) }
  }
  if (env.sync != null) return { type: 'sync', reply: env.sync.reply, join: env.sync.join, members: env.sync.members.map(syncEntryFromWire) }
  if (env.gossip != null) return { type: 'gossip', updates: env.gossip.updates.map(updateFromWire) }
  if (env.digest != null) return { type: 'digest', members: env.digest.members, hash: env.digest.hash }
  fail(`envelope: unknown message ${String(kind)}`)
}
