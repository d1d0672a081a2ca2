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
 *
 * This file is the codec's public face. The work is split by concern:
 * `codec-limits.ts` (version, bounds, errors), `codec-tables.ts` (wire types,
 * field numbers, enum values), `codec-validate.ts` (structural validation),
 * `codec-encode.ts` (writers) and `codec-decode.ts` (readers).
 */
import { encodeMessage as encodeProtobuf, decodeMessage as decodeProtobuf, message } from 'protons-runtime'
import type { Codec } from 'protons-runtime'
import type { Message } from '../membership/types.ts'
import { MalformedMessageError, UnsupportedVersionError, WIRE_VERSION } from './codec-limits.ts'
import { validateMessage } from './codec-validate.ts'
import { encodeEnvelope } from './codec-encode.ts'
import { decodeEnvelope } from './codec-decode.ts'

export { CODEC_LIMITS, MalformedMessageError, UnsupportedVersionError, WIRE_VERSION } from './codec-limits.ts'
export { validateMessage } from './codec-validate.ts'

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
