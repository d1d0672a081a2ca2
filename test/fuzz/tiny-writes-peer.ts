/**
 * A peer for lp-framing.test.ts, run in a process of its own so that the
 * event loop of the node under test is measured without this peer's work in
 * it. It dials the node, opens a stream on a protocol and writes one frame
 * whose prefix declares `declared` bytes and whose first `bytes` bytes of body
 * go out in writes of `writeSize` bytes (each write is one yamux data frame),
 * closes its end and waits for the node to end the stream. It prints one JSON
 * line: { sendMs, endMs, ended, status }.
 *
 *   node test/fuzz/tiny-writes-peer.ts <multiaddr> <protocol> <declared> <bytes> <writeSize>
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createNode } from '../../gossip/index.ts'
import { concat } from './fuzz.ts'
import { varint } from './net-kit.ts'

const [addr, protocol, declared, bytes, writeSize] = process.argv.slice(2)
const BOUND_MS = 60_000

const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: [] })
try {
  const stream = await node.dialProtocol(multiaddr(addr), protocol, { signal: AbortSignal.timeout(BOUND_MS) })
  const ended = new Promise<void>(resolve => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
  const data = concat(varint(Number(declared)), new Uint8Array(Number(bytes)).fill(0x41))
  const size = Number(writeSize)
  const t0 = performance.now()
  try {
    for (let at = 0; at < data.length && stream.status === 'open' && stream.writeStatus === 'writable'; at += size) {
      if (!stream.send(data.subarray(at, at + size))) await stream.onDrain({ signal: AbortSignal.timeout(BOUND_MS) })
    }
    await stream.close({ signal: AbortSignal.timeout(BOUND_MS) })
  } catch {
    // reset by the node while writing
  }
  const t1 = performance.now()
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([ended, new Promise<void>(resolve => { timer = setTimeout(resolve, BOUND_MS) })])
  clearTimeout(timer)
  console.log(JSON.stringify({ sendMs: Math.round(t1 - t0), endMs: Math.round(performance.now() - t1), ended: stream.status !== 'open', status: stream.status }))
} finally {
  await node.stop()
}
