/**
 * Noise's crypto as the agent configures it (gossip/noise-crypto.ts): every
 * frame through node:crypto's ChaCha20-Poly1305, with the bytes of noise's own
 * cipher for small frames, so an agent talks to one that runs noise's default.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { ChaCha20Poly1305 as WasmChaCha, newInstance } from '@chainsafe/as-chacha20poly1305'
import { nodeCrypto } from '@chainsafe/libp2p-noise/crypto'
import { NOISE_CRYPTO } from '../../gossip/noise-crypto.ts'

const wasm = new WasmChaCha(newInstance())

describe('gossip: noise crypto', () => {
  it('small frames go to node:crypto too, with the bytes of the WebAssembly cipher noise uses for them by default', () => {
    assert.equal(NOISE_CRYPTO.chaCha20Poly1305Encrypt, nodeCrypto.chaCha20Poly1305Encrypt)
    assert.equal(NOISE_CRYPTO.chaCha20Poly1305Decrypt, nodeCrypto.chaCha20Poly1305Decrypt)
    for (const size of [0, 1, 100, 1199]) {
      const key = randomBytes(32)
      const nonce = randomBytes(12)
      const ad = randomBytes(32)
      const plaintext = randomBytes(size)
      const sealed = NOISE_CRYPTO.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key)
      assert.ok(sealed instanceof Uint8Array)
      assert.deepEqual(Buffer.from(sealed), Buffer.from(wasm.seal(key, nonce, plaintext, ad)), `size ${size}`)
      assert.deepEqual(Buffer.from(NOISE_CRYPTO.chaCha20Poly1305Decrypt(sealed, nonce, ad, key).subarray()), plaintext)
    }
  })

  it('a frame with a wrong tag is refused', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(12)
    const sealed = Uint8Array.from(wasm.seal(key, nonce, randomBytes(64)))
    sealed[sealed.length - 1] ^= 1
    assert.throws(() => NOISE_CRYPTO.chaCha20Poly1305Decrypt(sealed, nonce, new Uint8Array(0), key))
  })
})
