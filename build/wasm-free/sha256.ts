/**
 * Build-time stand-in for `@chainsafe/as-sha256` (a WebAssembly SHA-256
 * compiled when the module loads; noise imports its `digest`). The bundle
 * aliases the package to this file, for the reason given in
 * chacha20poly1305.ts beside it: `@noble/hashes`' SHA-256, already bundled.
 */
import { sha256 } from '@noble/hashes/sha2.js'

export function digest (data: Uint8Array): Uint8Array {
  return sha256(data)
}
