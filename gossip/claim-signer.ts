/**
 * Membership claims (membership/claims.ts) signed with the node's libp2p key.
 *
 * A member id is an ed25519 peer id, which embeds its public key, so a
 * receiver needs nothing but the id to check a claim: no key distribution.
 * Ids of other key types (RSA ids hash the key instead of embedding it) cannot
 * be checked and their claims are rejected.
 *
 * The core calls these synchronously. @libp2p/crypto's ed25519 is synchronous
 * on Node and Deno (node:crypto); `claimSigner` checks that once and refuses
 * a key whose signing is asynchronous rather than sign with it wrongly.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import type { Claims, MemberId } from '../membership/index.ts'

export class UnsupportedClaimKeyError extends Error {
  override name = 'UnsupportedClaimKeyError'
}

/** Public keys by member id; bounded, oldest dropped first. */
const MAX_CACHED_KEYS = 4096

export function claimSigner (privateKey: PrivateKey): Claims {
  if (privateKey.type !== 'Ed25519') throw new UnsupportedClaimKeyError(`claims need an Ed25519 node key, not ${privateKey.type}`)
  const probe = privateKey.sign(new Uint8Array(1))
  if (!(probe instanceof Uint8Array)) throw new UnsupportedClaimKeyError('this runtime signs asynchronously; claims need a synchronous signer')
  const keys = new Map<MemberId, PublicKey | null>()
  const keyOf = (id: MemberId): PublicKey | null => {
    let key = keys.get(id)
    if (key !== undefined) return key
    try {
      const peerKey = peerIdFromString(id).publicKey
      key = peerKey?.type === 'Ed25519' ? peerKey : null
    } catch {
      key = null
    }
    keys.set(id, key)
    if (keys.size > MAX_CACHED_KEYS) keys.delete(keys.keys().next().value as string)
    return key
  }
  return {
    sign: (payload) => privateKey.sign(payload) as Uint8Array,
    verify: (id, payload, signature) => {
      const key = keyOf(id)
      if (key == null || signature.byteLength !== 64) return false
      try {
        return key.verify(payload, signature) === true
      } catch {
        return false
      }
    }
  }
}
