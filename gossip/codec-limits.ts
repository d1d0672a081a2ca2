/**
 * The SWIM codec's version, bounds and errors: what the encoder, the
 * validator and the decoder all share. Re-exported by `codec.ts`, the
 * codec's public face; import from there outside the codec.
 */

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

/** Throws MalformedMessageError: the one way the validator and the decoder reject. */
export function fail (why: string): never {
  throw new MalformedMessageError(why)
}
