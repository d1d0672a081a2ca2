/**
 * Build-time stand-in for `@chainsafe/as-chacha20poly1305` (a WebAssembly
 * ChaCha20-Poly1305 that noise uses for frames under 1,200 bytes, compiled
 * when the module loads). The bundle (build/bundle.ts) aliases the package to
 * this file: the same `seal`/`open` on `@noble/ciphers`' JavaScript
 * ChaCha20-Poly1305, which noise already bundles for browsers.
 *
 * Why: compiling WebAssembly makes V8 keep its WebAssembly compilers resident
 * for the life of the process: with this and sha256.ts, an agent on Deno
 * holds 3 MB less (bench/footprint.ts). What it costs: ~10 µs instead of
 * ~3 µs to seal a 100-byte frame, under 1 % of one core at 1,000 frames a
 * second.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'

/** The WebAssembly module's context in the original; nothing to hold here. */
export function newInstance (): null {
  return null
}

export class ChaCha20Poly1305 {
  constructor (_ctx?: unknown) {}

  /** Encrypts `plaintext` and appends the 16-byte tag. */
  seal (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData?: Uint8Array, dst?: Uint8Array): Uint8Array {
    return chacha20poly1305(key, nonce, associatedData).encrypt(plaintext, dst)
  }

  /** Checks the tag and decrypts; null when the tag does not match (as the original). */
  open (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, associatedData?: Uint8Array, dst?: Uint8Array): Uint8Array | null {
    try {
      return chacha20poly1305(key, nonce, associatedData).decrypt(sealed, dst)
    } catch {
      return null
    }
  }
}
