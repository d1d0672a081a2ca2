/**
 * A stand-in for ed25519 statement signing (membership/signatures.ts) in simulations
 * and fuzzing: a keyed hash of the signer id and the payload. Pure, fast and
 * deterministic; forgeable by design (the real scheme is tested with real
 * keys in test/unit/membership-signatures.test.ts), but it makes every relayed
 * statement carry the right signer's signature, which is what the simulator checks.
 */
import type { Signer, MemberId } from '../../membership/index.ts'

function fakeSignature (who: MemberId, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(64)
  let h = 0x811c9dc5
  for (let i = 0; i < who.length; i++) h = Math.imul(h ^ who.charCodeAt(i), 0x01000193)
  for (let i = 0; i < payload.length; i++) h = Math.imul(h ^ payload[i], 0x01000193)
  for (let i = 0; i < 64; i++) { h = Math.imul(h ^ i, 0x01000193); out[i] = h & 0xff }
  return out
}

export function fakeSigner (id: MemberId): Signer {
  return {
    sign: payload => fakeSignature(id, payload),
    verify: (who, payload, signature) => {
      if (signature.byteLength !== 64) return false
      const expected = fakeSignature(who, payload)
      return expected.every((b, i) => b === signature[i])
    }
  }
}
