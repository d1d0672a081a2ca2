/**
 * gossip/pnet.ts, the cluster key's connection protector, against
 * `@libp2p/pnet` (a dev dependency, here only): the same key stream as the
 * `xsalsa20` package it uses, the same bytes on the wire both ways over an
 * in-memory connection pair, garbage under another key, and every failure a
 * rejected upgrade or an aborted connection, never an exception thrown out of
 * an event listener (node:test fails a file on an uncaught exception).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { preSharedKey as upstreamPreSharedKey } from '@libp2p/pnet'
import { multiaddrConnectionPair } from '@libp2p/utils'
import type { MessageStream, MultiaddrConnection } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { newClusterKey } from '../../gossip/cluster-key.ts'
import { decodeV1PSK, InvalidPreSharedKeyError, preSharedKey, XSalsa20Stream } from '../../gossip/pnet.ts'

/** The original (CommonJS, untyped); it runs on WebAssembly wherever there is WebAssembly. */
const wasmXsalsa20 = createRequire(import.meta.url)('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => { update: (input: Uint8Array) => Uint8Array }

/** Everything `stream` delivers, as one growing buffer. */
function collect (stream: MessageStream): { bytes: () => Buffer } {
  const chunks: Uint8Array[] = []
  stream.addEventListener('message', (evt) => {
    const data = evt.data
    if (data instanceof Uint8Array) chunks.push(data)
    else for (const chunk of data) chunks.push(chunk)
  })
  return { bytes: () => Buffer.concat(chunks) }
}

async function until (what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

type Protect = (conn: MultiaddrConnection) => Promise<MessageStream>
const ours = (key: Uint8Array): Protect => async conn => await preSharedKey({ psk: key })().protect(conn)
const upstream = (key: Uint8Array): Protect => async conn => await upstreamPreSharedKey({ psk: key })().protect(conn)

/** Protects both ends of a connection pair, each with its own protector. */
async function protectedPair (outbound: Protect, inbound: Protect): Promise<[MessageStream, MessageStream]> {
  const [a, b] = multiaddrConnectionPair()
  return await Promise.all([outbound(a), inbound(b)])
}

/** Sends `data` from `from` to `to` in uneven chunks; resolves with what `to` delivered once it has as many bytes. */
async function exchange (from: MessageStream, to: MessageStream, data: Uint8Array): Promise<Buffer> {
  const received = collect(to)
  for (let at = 0, size = 1; at < data.length; at += size, size = size * 3 + 7) {
    from.send(data.subarray(at, at + size))
  }
  await until(`${data.length} bytes`, () => received.bytes().length >= data.length)
  return received.bytes()
}

describe('gossip pnet: XSalsa20 key stream', () => {
  it('gives the xsalsa20 package\'s key stream over any chunking, as a connection\'s bytes arrive', () => {
    let seed = 7
    const next = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
    for (let round = 0; round < 20; round++) {
      const nonce = randomBytes(24)
      const key = randomBytes(32)
      const data = randomBytes(1 + next(20_000))
      const original = wasmXsalsa20(nonce, key).update(data)
      const stream = new XSalsa20Stream(nonce, key)
      const chunks: Uint8Array[] = []
      for (let at = 0; at < data.length;) {
        const size = Math.min(data.length - at, next(4) === 0 ? next(200) : next(5000))
        chunks.push(stream.update(data.subarray(at, at + size)))
        at += size
      }
      assert.deepEqual(Buffer.concat(chunks), Buffer.from(original), `round ${round}`)
    }
  })

  it('decrypts what the original encrypted, into a given buffer too', () => {
    const nonce = randomBytes(24)
    const key = randomBytes(32)
    const data = randomBytes(3000)
    const sealed = wasmXsalsa20(nonce, key).update(data)
    const out = new Uint8Array(3000)
    assert.equal(new XSalsa20Stream(nonce, key).update(sealed, out), out)
    assert.deepEqual(Buffer.from(out), data)
  })

  it('refuses a short nonce or key with a clear error, as the original', () => {
    assert.throws(() => wasmXsalsa20(randomBytes(23), randomBytes(32)), /nonce must be at least 24 bytes/)
    assert.throws(() => new XSalsa20Stream(randomBytes(23), randomBytes(32)), /nonce must be at least 24 bytes/)
    assert.throws(() => new XSalsa20Stream(randomBytes(24), randomBytes(31)), /key must be at least 32 bytes/)
  })
})

describe('gossip pnet: key file', () => {
  it('decodes the key of a v1 file (what `agent keygen` and pnet\'s generateKey write), with any line breaks', () => {
    const file = newClusterKey()
    const hex = new TextDecoder().decode(file).split('\n')[2]
    assert.equal(Buffer.from(decodeV1PSK(file)).toString('hex'), hex)
    const crlf = new TextEncoder().encode(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${hex.toUpperCase()}\r\n`)
    assert.equal(Buffer.from(decodeV1PSK(crlf)).toString('hex'), hex)
  })

  it('refuses anything else at once, with InvalidPreSharedKeyError', () => {
    const hex = 'ab'.repeat(32)
    for (const text of ['', `/key/swarm/psk/1.0.0/\n/base16/\n${hex.slice(2)}`, `/key/swarm/psk/1.0.0/\n/base64/\n${hex}`,
      `/key/swarm/psk/2.0.0/\n/base16/\n${hex}`, `/key/swarm/psk/1.0.0/\n/base16/\n${hex.slice(1)}g`]) {
      assert.throws(() => preSharedKey({ psk: new TextEncoder().encode(text) }), InvalidPreSharedKeyError, JSON.stringify(text))
    }
    assert.throws(() => decodeV1PSK(new Uint8Array([0xff, 0xfe])), InvalidPreSharedKeyError)
  })
})

describe('gossip pnet: wire-compatible with @libp2p/pnet', () => {
  for (const [name, outbound, inbound] of [
    ['ours dials, @libp2p/pnet answers', ours, upstream],
    ['@libp2p/pnet dials, ours answers', upstream, ours],
    ['ours on both ends', ours, ours]
  ] as const) {
    it(`${name}: the same bytes arrive both ways under the same key`, async () => {
      const key = newClusterKey()
      const [a, b] = await protectedPair(outbound(key), inbound(key))
      // Below the original's initial WebAssembly memory: this test process must not grow it.
      const there = randomBytes(200_000)
      const back = randomBytes(150_001)
      assert.deepEqual(await exchange(a, b, there), there)
      assert.deepEqual(await exchange(b, a, back), back)
      await Promise.all([a.close(), b.close()])
    })
  }

  it('a queue of frames goes out frame by frame (on WebSocket, one message each), and @libp2p/pnet reads it', async () => {
    const key = newClusterKey()
    const [rawA, rawB] = multiaddrConnectionPair()
    const [a, b] = await Promise.all([ours(key)(rawA), upstream(key)(rawB)])
    const sizes: number[] = []
    const send = rawA.send.bind(rawA)
    rawA.send = (data) => { sizes.push(data.byteLength); return send(data) }
    const frames = Array.from({ length: 8 }, () => randomBytes(65_535))
    const received = collect(b)
    // (cast: npm installed more than one version of uint8arraylist, with the same shape)
    a.send(new Uint8ArrayList(...frames) as unknown as Parameters<MessageStream['send']>[0])
    await until('all frames', () => received.bytes().length >= 8 * 65_535)
    assert.deepEqual(sizes, frames.map(f => f.length))
    assert.deepEqual(received.bytes(), Buffer.concat(frames))
    await Promise.all([a.close(), b.close()])
  })

  it('under different keys the bytes arrive as garbage (the noise handshake above then fails)', async () => {
    for (const [outbound, inbound] of [[ours, upstream], [upstream, ours]]) {
      const [a, b] = await protectedPair(outbound(newClusterKey()), inbound(newClusterKey()))
      const data = randomBytes(4096)
      const got = await exchange(a, b, data)
      assert.equal(got.length, data.length)
      assert.notDeepEqual(got, data)
      a.abort(new Error('done'))
    }
  })
})

describe('gossip pnet: failures are rejected upgrades or aborted connections', () => {
  it('a peer that never sends its nonce: rejected after the timeout when the caller gives no signal, and the raw connection aborted', async () => {
    const [a] = multiaddrConnectionPair()
    const started = performance.now()
    await assert.rejects(preSharedKey({ psk: newClusterKey(), timeout: 200 })().protect(a), (err: Error) => /Abort|Timeout/.test(err.name))
    assert.ok(performance.now() - started < 2000)
    assert.equal(a.status, 'aborted')
  })

  it('the caller\'s signal bounds the nonce exchange when given', async () => {
    const [a] = multiaddrConnectionPair()
    const controller = new AbortController()
    const protecting = preSharedKey({ psk: newClusterKey(), timeout: 60_000 })().protect(a, { signal: controller.signal })
    setTimeout(() => { controller.abort() }, 50)
    await assert.rejects(protecting, (err: Error) => err.name === 'AbortError')
    assert.equal(a.status, 'aborted')
  })

  it('a peer that sends part of a nonce and hangs up: rejected', async () => {
    const [a, b] = multiaddrConnectionPair()
    const outcome = preSharedKey({ psk: newClusterKey() })().protect(a).then(() => undefined, (err: Error) => err)
    b.send(randomBytes(10))
    await sleep(20)
    await b.close()
    assert.equal((await outcome)?.name, 'UnexpectedEOFError')
    assert.notEqual(a.status, 'open')
  })

  it('a cipher error on received bytes aborts the connection instead of throwing out of the message listener', async () => {
    const key = newClusterKey()
    const [a, b] = await protectedPair(ours(key), ours(key))
    const update = XSalsa20Stream.prototype.update
    // The first call encrypts what a sends; the next one, b decrypting it, fails.
    let calls = 0
    XSalsa20Stream.prototype.update = function (input: Uint8Array, output?: Uint8Array) {
      if (++calls === 1) return update.call(this, input, output)
      throw new RangeError('key stream exhausted')
    }
    try {
      a.send(randomBytes(100))
      await until('b aborted', () => b.status === 'aborted')
    } finally {
      XSalsa20Stream.prototype.update = update
    }
    await until('a closed too', () => a.status !== 'open')
  })

  it('an error from the raw connection while sending aborts the connection instead of throwing into the sender', async () => {
    const key = newClusterKey()
    const [rawA, rawB] = multiaddrConnectionPair()
    const [a] = await Promise.all([ours(key)(rawA), ours(key)(rawB)])
    // close() marks the raw connection's writable end closing at once; its close event comes later.
    void rawA.close().catch(() => {})
    assert.doesNotThrow(() => a.send(randomBytes(100)))
    assert.equal(a.status, 'aborted')
  })
})
