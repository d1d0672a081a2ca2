/**
 * The crypto noise runs with: its own default, but with every frame sealed and
 * opened by node:crypto's ChaCha20-Poly1305 (Node's and Deno's), where noise
 * sends frames under 1,200 bytes, nearly all of an agent's, to a WebAssembly
 * cipher (JavaScript in the bundle: build/wasm-free/). An agent seals too few
 * frames for V8 to optimise a JavaScript cipher, and it holds V8's optimising
 * compilers while idle (agent/optimizing-compilers.js), so every frame ran
 * cold: a seed taking eight joins spent a seventh of that work sealing frames,
 * and node:crypto cut its CPU by a tenth (docs/scale.md, "Noise's small
 * frames, native").
 */
import { defaultCrypto, nodeCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'

export const NOISE_CRYPTO: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt: nodeCrypto.chaCha20Poly1305Encrypt,
  chaCha20Poly1305Decrypt: nodeCrypto.chaCha20Poly1305Decrypt
}
