/**
 * The SWIM encoder: `Message` -> protobuf `Envelope` body, as documented in
 * `swim.proto`. Proto3 style: zero numbers, false booleans and empty strings
 * are omitted. It trusts its input: `encodeMessage` (codec.ts) validates the
 * message first.
 */
import type { Writer } from 'protons-runtime'
import type { Message, MemberStatus, Update } from '../membership/types.ts'
import { DELIVERY_FAILURE, ENVELOPE, FAILURE_CAUSE, MEMBER_STATUS, UPDATE, WT_LEN, WT_VARINT } from './codec-tables.ts'
import type { DecodedMember } from './codec-tables.ts'

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

/** Writes one `Envelope` holding `msg` (length-delimiting the whole, if asked, is the caller's). */
export function encodeEnvelope (w: Writer, msg: Message): void {
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
      return
    case 'digest':
      writeNested(w, ENVELOPE.digest, () => {
        writeUint(w, 1, msg.members)
        writeUint(w, 2, msg.hash)
      })
  }
}
