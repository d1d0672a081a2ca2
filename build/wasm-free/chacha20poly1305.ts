/**
 * Build-time stand-in for `@chainsafe/as-chacha20poly1305` (a WebAssembly
 * ChaCha20-Poly1305 that noise uses for frames under 1,200 bytes, compiled
 * when the module loads; larger frames go to node:crypto already). The bundle
 * (build/bundle.ts) aliases the package to this file: the same `seal`/`open`
 * on node:crypto's ChaCha20-Poly1305 (Node and Deno have it), or on
 * `@noble/ciphers`' JavaScript one where a runtime lacks it.
 *
 * Why not WebAssembly: compiling it makes V8 keep its WebAssembly compilers
 * resident for the life of the process: with this and sha256.ts, an agent on
 * Deno holds 3 MB less (bench/footprint.ts). Why not the JavaScript cipher
 * first: an agent seals too few frames for V8 to optimise its loops (and it
 * holds V8's optimising compilers while idle: agent/optimizing-compilers.js),
 * so every frame ran cold; a seed taking eight joins spent a seventh of that
 * work sealing frames, and native sealing cut its CPU by a tenth
 * (docs/scale.md, "Noise's small frames, native").
 */
import { createCipheriv, createDecipheriv, getCiphers } from 'node:crypto'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'

const CIPHER = 'chacha20-poly1305'
const TAG_BYTES = 16

interface Aead {
  seal: (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData?: Uint8Array, dst?: Uint8Array) => Uint8Array
  open: (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, associatedData?: Uint8Array, dst?: Uint8Array) => Uint8Array | null
}

/** node:crypto's. `dst`, when given, must hold the result: the tag too when sealing. */
export const nativeAead: Aead = {
  seal (key, nonce, plaintext, associatedData, dst) {
    const cipher = createCipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES })
    if (associatedData != null) cipher.setAAD(associatedData, { plaintextLength: plaintext.byteLength })
    const out = dst ?? new Uint8Array(plaintext.byteLength + TAG_BYTES)
    out.set(cipher.update(plaintext))
    cipher.final()
    out.set(cipher.getAuthTag(), plaintext.byteLength)
    return out
  },
  open (key, nonce, sealed, associatedData, dst) {
    const length = sealed.byteLength - TAG_BYTES
    if (length < 0) return null
    const decipher = createDecipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES })
    decipher.setAuthTag(sealed.subarray(length))
    if (associatedData != null) decipher.setAAD(associatedData, { plaintextLength: length })
    const plaintext = decipher.update(sealed.subarray(0, length))
    try {
      decipher.final()
    } catch {
      return null
    }
    if (dst == null) return plaintext
    dst.set(plaintext)
    return dst.subarray(0, length)
  }
}

/** @noble/ciphers' JavaScript one, which noise already bundles for browsers. */
export const javaScriptAead: Aead = {
  seal (key, nonce, plaintext, associatedData, dst) {
    return chacha20poly1305(key, nonce, associatedData).encrypt(plaintext, dst)
  },
  open (key, nonce, sealed, associatedData, dst) {
    try {
      return chacha20poly1305(key, nonce, associatedData).decrypt(sealed, dst)
    } catch {
      return null
    }
  }
}

const aead = getCiphers().includes(CIPHER) ? nativeAead : javaScriptAead

/** The WebAssembly module's context in the original; nothing to hold here. */
export function newInstance (): null {
  return null
}

export class ChaCha20Poly1305 {
  constructor (_ctx?: unknown) {}

  /** Encrypts `plaintext` and appends the 16-byte tag. */
  seal (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData?: Uint8Array, dst?: Uint8Array): Uint8Array {
    return aead.seal(key, nonce, plaintext, associatedData, dst)
  }

  /** Checks the tag and decrypts; null when the tag does not match (as the original). */
  open (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, associatedData?: Uint8Array, dst?: Uint8Array): Uint8Array | null {
    return aead.open(key, nonce, sealed, associatedData, dst)
  }
}
