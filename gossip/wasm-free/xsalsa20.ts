/**
 * Build-time stand-in for `xsalsa20`, the stream cipher of the cluster key
 * (`@libp2p/pnet` encrypts every byte of a connection with it). The package
 * compiles a WebAssembly module as it loads whenever the runtime has
 * WebAssembly, which costs a keyed agent ~5 MB of resident memory on Deno
 * (bench/footprint.ts); the bundle aliases it to this file, for the reason
 * given in chacha20poly1305.ts beside it: the same streaming API on
 * `@noble/ciphers`' XSalsa20.
 *
 * pnet calls `xsalsa20(nonce, key)` once per direction of a connection and
 * then `update(chunk)` for every chunk in order; the key stream continues
 * across chunks. noble's cipher starts at a 64-byte block, so each update
 * starts at the block holding the stream's position and skips the bytes of it
 * already used. noble's block counter is 32 bits: one direction of one
 * connection can carry 256 GiB, after which `update` throws and libp2p closes
 * the connection (the next one has fresh nonces).
 */
import { xsalsa20 as xsalsa20Xor } from '@noble/ciphers/salsa.js'

const BLOCK_BYTES = 64

export class XSalsa20Stream {
  readonly #nonce: Uint8Array
  readonly #key: Uint8Array
  /** Bytes of key stream used so far. */
  #position = 0

  constructor (nonce: Uint8Array, key: Uint8Array) {
    if (nonce.length < 24) throw new Error('nonce must be at least 24 bytes')
    if (key.length < 32) throw new Error('key must be at least 32 bytes')
    this.#nonce = nonce.slice(0, 24)
    this.#key = key.slice(0, 32)
  }

  /** XORs `input` with the next `input.length` bytes of key stream, into `output` (a new array by default). */
  update (input: Uint8Array, output: Uint8Array = new Uint8Array(input.length)): Uint8Array {
    if (input.length === 0) return output
    const skip = this.#position % BLOCK_BYTES
    const padded = new Uint8Array(skip + input.length)
    padded.set(input, skip)
    const xored = xsalsa20Xor(this.#key, this.#nonce, padded, undefined, Math.floor(this.#position / BLOCK_BYTES))
    output.set(xored.subarray(skip))
    this.#position += input.length
    return output
  }

  /** The original wipes its WebAssembly memory here; nothing is shared to wipe. */
  final (): void {}
  finalize (): void {}
}

/** Called with or without `new`, as the original. */
export default function xsalsa20 (nonce: Uint8Array, key: Uint8Array): XSalsa20Stream {
  return new XSalsa20Stream(nonce, key)
}
