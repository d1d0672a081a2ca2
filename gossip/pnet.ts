/**
 * The cluster key's connection protector: a libp2p private network, on the
 * wire exactly as `@libp2p/pnet` 3 (and go-libp2p's pnet) speak it, with a
 * JavaScript XSalsa20 (`@noble/ciphers`).
 *
 * The protocol: each side sends 24 random bytes (its nonce) and reads the
 * other's 24; from then on every byte it sends is XORed with the key stream
 * XSalsa20(its nonce, key) and every byte it receives with XSalsa20(the
 * other's nonce, key). Nothing is authenticated here: a peer with another key
 * reads garbage, and the noise handshake that follows fails.
 *
 * Why not `@libp2p/pnet`'s own protector: it encrypts with the `xsalsa20`
 * package, whose WebAssembly build keeps one shared memory for every stream
 * and re-grows it on calls from streams whose view of it went stale. After
 * one large message has grown it, ordinary traffic grows it a page per call
 * until it hits its cap; then `memory.grow` throws inside a connection's
 * message listener, an uncaught exception that kills the process (docs/security.md,
 * known upstream issues). Owning the protector also lets every
 * failure of the handshake be a rejected upgrade and every failure after it
 * an aborted connection, never an exception thrown into libp2p's events.
 */
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils'
import { xsalsa20 as xsalsa20Xor } from '@noble/ciphers/salsa.js'
import { hexToBytes } from '@noble/hashes/utils.js'
import type { AbortOptions, ConnectionProtector, MessageStream, MultiaddrConnection } from '@libp2p/interface'

/** What libp2p asks a connection to send: a list of chunks (a Uint8ArrayList). */
type Chunks = Parameters<AbstractMultiaddrConnection['sendData']>[0]

export const NONCE_BYTES = 24
export const KEY_BYTES = 32
/** How long to wait for the other side's nonce when the caller gives no signal (pnet's default). */
export const DEFAULT_NONCE_TIMEOUT_MS = 1000

const BLOCK_BYTES = 64
const V1_HEADER = '/key/swarm/psk/1.0.0/'
const V1_CODEC = '/base16/'

export class InvalidPreSharedKeyError extends Error {
  override name = 'InvalidPreSharedKeyError'
}

/**
 * The 32-byte key of a v1 key file (`/key/swarm/psk/1.0.0/`, `/base16/`, 64
 * hex digits on the third line, what pnet's `generateKey` writes).
 */
export function decodeV1PSK (file: Uint8Array): Uint8Array {
  let lines: string[]
  try {
    lines = new TextDecoder('utf-8', { fatal: true }).decode(file).split(/\r\n|\r|\n/)
  } catch {
    throw new InvalidPreSharedKeyError('the pre-shared key file is not text')
  }
  const [header, codec, hex] = lines
  if (header !== V1_HEADER || codec !== V1_CODEC || hex == null || !/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new InvalidPreSharedKeyError(`the pre-shared key file is not "${V1_HEADER}", "${V1_CODEC}", 64 hex digits`)
  }
  return hexToBytes(hex.toLowerCase())
}

/**
 * One direction of a connection: `update` XORs each chunk with the next bytes
 * of the key stream, continuing across chunks. noble's cipher starts at a
 * 64-byte block, so each update starts at the block holding the stream's
 * position and skips the bytes of it already used. noble's block counter is
 * 32 bits: one direction of one connection can carry 256 GiB, after which
 * `update` throws and the connection is aborted (the next one has fresh
 * nonces).
 */
export class XSalsa20Stream {
  readonly #nonce: Uint8Array
  readonly #key: Uint8Array
  /** Bytes of key stream used so far. */
  #position = 0

  constructor (nonce: Uint8Array, key: Uint8Array) {
    if (nonce.length < NONCE_BYTES) throw new Error('nonce must be at least 24 bytes')
    if (key.length < KEY_BYTES) throw new Error('key must be at least 32 bytes')
    this.#nonce = nonce.slice(0, NONCE_BYTES)
    this.#key = key.slice(0, KEY_BYTES)
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
}

export interface PreSharedKeyInit {
  /** The key file's bytes (v1 format, see decodeV1PSK). */
  psk: Uint8Array
  /** Bound on the nonce exchange when `protect` is called without a signal. Default DEFAULT_NONCE_TIMEOUT_MS. */
  timeout?: number
}

/** The libp2p `connectionProtector` option, as `@libp2p/pnet`'s `preSharedKey`. Throws InvalidPreSharedKeyError at once for a bad key file. */
export function preSharedKey (init: PreSharedKeyInit): () => ConnectionProtector {
  const psk = decodeV1PSK(init.psk)
  const timeout = init.timeout ?? DEFAULT_NONCE_TIMEOUT_MS
  return () => new PreSharedKeyProtector(psk, timeout)
}

class PreSharedKeyProtector implements ConnectionProtector {
  readonly [Symbol.toStringTag] = 'cluster-pnet'
  readonly #psk: Uint8Array
  readonly #timeout: number

  constructor (psk: Uint8Array, timeout: number) {
    this.#psk = psk
    this.#timeout = timeout
  }

  /**
   * Exchanges nonces, then returns the encrypted connection. Rejects (and
   * aborts the raw connection) when the nonce does not come in time, the
   * connection ends first, or anything else fails.
   */
  async protect (connection: MessageStream, options?: AbortOptions): Promise<MultiaddrConnection> {
    // libp2p's upgrader hands every protector the raw connection.
    const maConn = connection as MultiaddrConnection
    const log = maConn.log.newScope('pnet')
    // libp2p always passes its upgrade budget (inbound timeout, dial timeout):
    // that bounds the whole upgrade already. A tighter one of our own would
    // refuse good peers whenever the event loop is busy for a moment.
    const signal = options?.signal ?? AbortSignal.timeout(this.#timeout)
    try {
      const localNonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES))
      const bytes = byteStream(maConn)
      const [remote] = await Promise.all([
        bytes.read({ bytes: NONCE_BYTES, signal }),
        bytes.write(localNonce, { signal })
      ])
      const remoteNonce = remote.subarray()
      log('exchanged nonces')
      const raw = bytes.unwrap() as MultiaddrConnection
      const protectedConn = new ProtectedConnection(raw, this.#psk, localNonce, remoteNonce, log)
      // It may have closed while the nonce was being handed over; nothing would report that later.
      if (raw.status !== 'open') throw new Error(`connection ${raw.status} during the pre-shared key exchange`)
      return protectedConn
    } catch (err) {
      log.error('pre-shared key exchange failed - %e', err)
      try { maConn.abort(err as Error) } catch {}
      throw err
    }
  }
}

/**
 * The connection after the nonce exchange: what libp2p upgrades further
 * (noise, then yamux). Mirrors `@libp2p/pnet`'s BoxMessageStream, except
 * that a cipher or transport error aborts this connection instead of being
 * thrown into the raw connection's event dispatch or the sender's call.
 */
class ProtectedConnection extends AbstractMultiaddrConnection {
  readonly #raw: MultiaddrConnection
  readonly #inbound: XSalsa20Stream
  readonly #outbound: XSalsa20Stream

  constructor (raw: MultiaddrConnection, psk: Uint8Array, localNonce: Uint8Array, remoteNonce: Uint8Array, log: MultiaddrConnection['log']) {
    super({ log, remoteAddr: raw.remoteAddr, direction: raw.direction })
    this.#raw = raw
    this.#inbound = new XSalsa20Stream(remoteNonce, psk)
    this.#outbound = new XSalsa20Stream(localNonce, psk)
    raw.addEventListener('message', (evt) => {
      try {
        const data = evt.data
        if (data instanceof Uint8Array) {
          this.onData(this.#inbound.update(data))
        } else {
          for (const chunk of data) this.onData(this.#inbound.update(chunk))
        }
      } catch (err) {
        this.abort(err as Error)
      }
    })
    // resume sending when the raw connection can take more
    raw.addEventListener('drain', () => { this.onMuxerDrain() })
    raw.addEventListener('close', (evt) => {
      if (evt.error != null) {
        if (evt.local) this.abort(evt.error)
        else this.onRemoteReset()
      } else {
        this.onTransportClosed()
      }
    })
  }

  /**
   * Sends the queued chunks (noise frames) one by one, where `@libp2p/pnet`
   * joins the whole queue into one buffer: on WebSocket each send is one
   * message, and a joined queue would be one message of any size.
   */
  sendData (data: Chunks): { sentBytes: number, canSendMore: boolean } {
    try {
      let canSendMore = true
      for (const chunk of data) {
        if (chunk.byteLength > 0) canSendMore = this.#raw.send(this.#outbound.update(chunk)) && canSendMore
      }
      return { sentBytes: data.byteLength, canSendMore }
    } catch (err) {
      this.abort(err as Error)
      return { sentBytes: data.byteLength, canSendMore: false }
    }
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    await this.#raw.close(options)
  }

  sendReset (err: Error): void {
    this.#raw.abort(err)
  }

  // A raw connection that is already closing has nothing left to pause or resume.
  sendPause (): void {
    try { this.#raw.pause() } catch {}
  }

  sendResume (): void {
    try { this.#raw.resume() } catch {}
  }
}
