/**
 * The bundle's stand-ins for noise's WebAssembly crypto (build/wasm-free/)
 * must give the same bytes as the packages they replace: an agent built from
 * the bundle talks to one running the sources. (The cluster key's XSalsa20 is
 * checked against the original in gossip-pnet.test.ts.)
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { ChaCha20Poly1305 as WasmChaCha, newInstance } from '@chainsafe/as-chacha20poly1305'
import { digest as wasmDigest } from '@chainsafe/as-sha256'
import { ChaCha20Poly1305 as JsChaCha, newInstance as jsNewInstance } from '../../build/wasm-free/chacha20poly1305.ts'
import { digest as jsDigest } from '../../build/wasm-free/sha256.ts'

const wasm = new WasmChaCha(newInstance())
const js = new JsChaCha(jsNewInstance())
/** Noise frames are at most 65,535 bytes; noise sends those under 1,200 through this code. */
const SIZES = [0, 1, 15, 16, 17, 100, 1199, 4096, 65535 - 16]

describe('bundle wasm-free crypto: same bytes as the WebAssembly originals', () => {
  it('seal gives the original\'s ciphertext and tag; each opens the other\'s', () => {
    for (const size of SIZES) {
      const key = randomBytes(32)
      const nonce = randomBytes(12)
      const ad = randomBytes(32)
      const plaintext = randomBytes(size)
      const sealed = js.seal(key, nonce, plaintext, ad)
      assert.deepEqual(Buffer.from(sealed), Buffer.from(wasm.seal(key, nonce, plaintext, ad)), `size ${size}`)
      assert.deepEqual(Buffer.from(wasm.open(key, nonce, sealed, ad)!), plaintext)
      assert.deepEqual(Buffer.from(js.open(key, nonce, sealed, ad)!), plaintext)
    }
  })

  it('open decrypts into the buffer it is given, as noise reuses the frame\'s own bytes', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(12)
    const plaintext = randomBytes(300)
    const sealed = wasm.seal(key, nonce, plaintext)
    // at an odd offset, as a frame inside a larger read often is
    const frame = new Uint8Array(sealed.length + 1).subarray(1)
    frame.set(sealed)
    const opened = js.open(key, nonce, frame, undefined, frame.subarray(0, 300))
    assert.deepEqual(Buffer.from(opened!), plaintext)
  })

  it('open answers null, as the original does, for a wrong tag, key or associated data', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(12)
    const ad = randomBytes(8)
    const sealed = js.seal(key, nonce, randomBytes(64), ad)
    const tampered = Uint8Array.from(sealed)
    tampered[tampered.length - 1] ^= 1
    assert.equal(js.open(key, nonce, tampered, ad), null)
    assert.equal(js.open(randomBytes(32), nonce, sealed, ad), null)
    assert.equal(js.open(key, nonce, sealed, randomBytes(8)), null)
    assert.equal(js.open(key, nonce, sealed.subarray(0, 10), ad), null, 'shorter than a tag')
  })

  it('digest is SHA-256, as the original', () => {
    for (const size of [0, 31, 32, 64, 65, 1000, 100_000]) {
      const data = randomBytes(size)
      assert.deepEqual(Buffer.from(jsDigest(data)), Buffer.from(wasmDigest(data)), `size ${size}`)
    }
  })
})
