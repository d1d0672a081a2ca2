/**
 * The SWIM wire codec: `Message` <-> bytes. A frame is one version byte
 * (WIRE_VERSION) followed by a protobuf `Envelope` of swim.proto, encoded
 * and decoded by the code protons generates from it (gossip/generated/,
 * `npm run gen:proto`) through the adapter in codec-wire.ts.
 *
 * The decoder is strict: anything that is not a valid message throws
 * MalformedMessageError (or its subclass UnsupportedVersionError), never
 * another exception, and every message passes membership/validate.ts both
 * ways, so the core never sees an unknown type, a non-integer number or an
 * unbounded string or list, and a peer never gets one from us.
 */
import type { Message } from '../membership/types.ts'
import { InvalidMessageError, MESSAGE_LIMITS, validateMessage as validate } from '../membership/validate.ts'
import { fromEnvelope, toEnvelope } from './codec-wire.ts'
import { Envelope } from './generated/swim.js'

export { MESSAGE_LIMITS } from '../membership/validate.ts'

/** The wire version this codec writes and the only one it reads. */
export const WIRE_VERSION = 1

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

/** Throws MalformedMessageError unless `msg` is a valid Message within MESSAGE_LIMITS. */
export function validateMessage (msg: unknown): asserts msg is Message {
  try {
    validate(msg)
  } catch (err) {
    if (err instanceof InvalidMessageError) throw new MalformedMessageError(err.message)
    throw err
  }
}

/** Encodes a message; throws MalformedMessageError if it breaks a bound (the remote would reject it). */
export function encodeMessage (msg: Message): Uint8Array {
  return encode(msg, false)
}

/** Encodes one part of a sync sent in several (gossip/sync-parts.ts): `more` when further parts follow. */
export function encodeSyncPart (msg: Extract<Message, { type: 'sync' }>, more: boolean): Uint8Array {
  return encode(msg, more)
}

function encode (msg: Message, more: boolean): Uint8Array {
  validateMessage(msg)
  const envelope = toEnvelope(msg)
  if (more && envelope.sync != null) envelope.sync.more = true
  const body = Envelope.encode(envelope)
  const frame = new Uint8Array(body.byteLength + 1)
  frame[0] = WIRE_VERSION
  frame.set(body, 1)
  return frame
}

/** List bounds the generated decoder applies while it reads, before a list can grow past them. */
const updates = { updates: MESSAGE_LIMITS.maxUpdates, updates$: { alive: { addrs: MESSAGE_LIMITS.maxAddrs, tags: MESSAGE_LIMITS.maxTags } } }
const DECODE_LIMITS = {
  ping: updates,
  pingReq: { ...updates, targetAddrs: MESSAGE_LIMITS.maxAddrs },
  ack: updates,
  nack: updates,
  gossip: updates,
  sync: { members: MESSAGE_LIMITS.maxSyncMembers, members$: { addrs: MESSAGE_LIMITS.maxAddrs, tags: MESSAGE_LIMITS.maxTags } },
}

/**
 * Decodes and validates one frame body (without the length prefix). Throws
 * UnsupportedVersionError for another wire version and MalformedMessageError
 * for anything else that is wrong; never any other exception.
 */
export function decodeMessage (bytes: Uint8Array): Message {
  return decodeFrame(bytes).msg
}

/** A decoded frame: its message, and whether more parts of the same sync follow it (gossip/sync-parts.ts). */
export interface DecodedFrame { msg: Message, more: boolean }

/** decodeMessage, and the `more` flag of a sync sent in parts. */
export function decodeFrame (bytes: Uint8Array): DecodedFrame {
  if (!(bytes instanceof Uint8Array)) throw new MalformedMessageError('expected a Uint8Array')
  if (bytes.byteLength === 0) throw new MalformedMessageError('empty message')
  if (bytes[0] !== WIRE_VERSION) throw new UnsupportedVersionError(bytes[0])
  let msg: Message
  let more: boolean
  try {
    const envelope = Envelope.decode(bytes.subarray(1), { limits: DECODE_LIMITS })
    msg = fromEnvelope(envelope)
    more = envelope.sync?.more === true
  } catch (err) {
    throw new MalformedMessageError(`undecodable message: ${(err as Error)?.message ?? String(err)}`, { cause: err })
  }
  validateMessage(msg)
  return { msg, more }
}
