/**
 * Membership statements (membership/signatures.ts) signed with the node's libp2p key.
 *
 * A member id is an ed25519 peer id, which embeds its public key, so a
 * receiver needs nothing but the id to check a statement: no key distribution.
 * Ids of other key types (RSA ids hash the key instead of embedding it) cannot
 * be checked and their statements are rejected.
 *
 * The core calls these synchronously. @libp2p/crypto's ed25519 is synchronous
 * on Node and Deno (node:crypto); `ed25519Signer` checks that once and refuses
 * a key whose signing is asynchronous rather than sign with it wrongly.
 *
 * Signing and checking go to node:crypto with key objects made once per key:
 * @libp2p/crypto imports the raw key into a new KeyObject on every call, which
 * cost more than the signature itself (profiled in a 50-agent start: key
 * imports were 3.5 s of one agent's CPU, every sync merge checking and signing
 * dozens of statements). Where node:crypto cannot take the key, the libp2p key signs.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import type { Signer, MemberId } from '../membership/index.ts'

export class UnsupportedSigningKeyError extends Error {
  override name = 'UnsupportedSigningKeyError'
}

/** Public keys by member id; bounded, oldest dropped first. */
const MAX_CACHED_KEYS = 4096

/** DER prefixes that wrap a raw Ed25519 key as PKCS#8 (private seed) and SPKI (public key). */
const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])

function der (prefix: Uint8Array, raw: Uint8Array): Buffer {
  return Buffer.concat([prefix, raw])
}

/** One member's key, imported once: a node:crypto key object, or the libp2p key where that failed. */
type Verifier = (payload: Uint8Array, signature: Uint8Array) => boolean

function verifierOf (key: PublicKey): Verifier {
  try {
    const object = createPublicKey({ key: der(SPKI_ED25519_PREFIX, key.raw), format: 'der', type: 'spki' })
    return (payload, signature) => cryptoVerify(null, payload, object, signature)
  } catch {
    return (payload, signature) => key.verify(payload, signature) === true
  }
}

function signerOf (privateKey: PrivateKey): (payload: Uint8Array) => Uint8Array {
  let object: KeyObject | undefined
  try {
    object = createPrivateKey({ key: der(PKCS8_ED25519_PREFIX, privateKey.raw.subarray(0, 32)), format: 'der', type: 'pkcs8' })
    // The imported key must sign exactly as the libp2p key does (Ed25519 is deterministic).
    const probe = new Uint8Array([1, 2, 3])
    if (!Buffer.from(cryptoSign(null, probe, object)).equals(Buffer.from(privateKey.sign(probe) as Uint8Array))) object = undefined
  } catch {
    object = undefined
  }
  if (object == null) return payload => privateKey.sign(payload) as Uint8Array
  const key = object
  return payload => new Uint8Array(cryptoSign(null, payload, key))
}

export function ed25519Signer (privateKey: PrivateKey): Signer {
  if (privateKey.type !== 'Ed25519') throw new UnsupportedSigningKeyError(`statements need an Ed25519 node key, not ${privateKey.type}`)
  const probe = privateKey.sign(new Uint8Array(1))
  if (!(probe instanceof Uint8Array)) throw new UnsupportedSigningKeyError('this runtime signs asynchronously; statements need a synchronous signer')
  const sign = signerOf(privateKey)
  const keys = new Map<MemberId, Verifier | null>()
  const keyOf = (id: MemberId): Verifier | null => {
    let key = keys.get(id)
    if (key !== undefined) return key
    try {
      const peerKey = peerIdFromString(id).publicKey
      key = peerKey?.type === 'Ed25519' ? verifierOf(peerKey) : null
    } catch {
      key = null
    }
    keys.set(id, key)
    if (keys.size > MAX_CACHED_KEYS) keys.delete(keys.keys().next().value as string)
    return key
  }
  return {
    sign,
    verify: (id, payload, signature) => {
      const key = keyOf(id)
      if (key == null || signature.byteLength !== 64) return false
      try {
        return key(payload, signature)
      } catch {
        return false
      }
    }
  }
}
