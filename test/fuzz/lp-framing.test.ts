/**
 * Fuzz of the length-prefixed framing on both transports (TCP and
 * WebSocket) of one libp2p node in this process, running the real SWIM and
 * work transports (gossip/swim-inbound.ts, gossip/work-transport.ts) with
 * their default limits and no-op handlers:
 *
 * (a) Before any handshake: raw bytes on the TCP listener, and in valid
 *     WebSocket frames after the HTTP upgrade, where multistream-select reads
 *     varint-prefixed strings (at most 1024 bytes, a prefix of at most 2
 *     bytes). Strings it answers "na" to are batched on one connection; each
 *     connection ends with one case drawn to end it: runs of 0xff (written
 *     until the node hangs up), over-long and huge prefixes, strings without
 *     their newline, truncated frames, a valid `/multistream/1.0.0\n` then
 *     garbage, a broken noise handshake, random bytes, mutations.
 * (b) After a full libp2p connection: client nodes open streams on the SWIM
 *     and work protocols over TCP and over WebSocket and write valid frames
 *     followed by one mutated one: random bodies, empty frames, lengths over
 *     the limit or at it with the body cut short, 0xff runs, over-long
 *     prefixes, corrupted prefixes, truncated frames.
 *
 * Rules: the process never throws; every connection and stream is ended by
 * the node in bounded time (a prefix the node must refuse ends it without our
 * FIN, and a 0xff run ends it long before we stop writing); RSS, and the heap
 * and buffers JavaScript holds, grow by less than 64 MB over a run (after a
 * warm-up, measured after a full GC); the transports' malformed and oversized
 * counters grow; and the node still exchanges a SWIM message both ways over
 * TCP and over WebSocket, periodically and after each run.
 *
 * A case's bytes go out in at most MAX_WRITES writes. The last test is the
 * opposite on purpose: one frame's body written a byte at a time (each write
 * a yamux data frame) by a peer in another process, and the node's event loop
 * must not be held past SWIM's LAN probe timeout.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as yieldIo, setTimeout as sleep } from 'node:timers/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import type { Stream } from '@libp2p/interface'
import {
  createNode, createSwimTransport, createWorkTransport, encodeMessage, encodeWire, DEFAULT_TRANSPORT_CONFIG, DEFAULT_WORK_TRANSPORT_CONFIG, SWIM_PROTOCOL, WORK_PROTOCOL,
  type ClusterNode, type NodeOptions, type SwimTransport, type WireMessage, type WorkTransport
} from '../../gossip/index.ts'
import { LAN, type Message } from '../../membership/index.ts'
import { concat, mutate, runFuzz, seeded, FUZZ_CASES, type Rng } from './fuzz.ts'
import {
  MemoryWatch, Pacer, Pool, RawConn, afterRun, eventLoopLag, pinYoungGeneration, binaryMessages, boundaryLength, describeFault, hex, lengthPrefixed, paddedVarint, upgradeRequest, varint, watchFaults, webSocketCounter,
  type FaultWatch
} from './net-kit.ts'

/** multistream-select's MAX_PROTOCOL_LENGTH. */
const MSS_MAX = 1024
const UPGRADE_TIMEOUT_MS = 10_000
/** Generous bounds (a shared, busy machine); a node that does not end a connection misses them by minutes. */
const REJECT_BOUND_MS = 5000
const FIN_BOUND_MS = 5000
const LINGER_BOUND_MS = UPGRADE_TIMEOUT_MS + 10_000
const STREAM_BOUND_MS = 10_000
/** A 0xff run is written up to this much; the node must hang up well before. */
const FLOOD_BYTES = 1024 * 1024
const MAX_LINGERING = 8
const MAX_RSS_GROWTH = 64 * 1024 * 1024
const CHECK_EVERY = 5000
/** Cases before the memory baseline is taken. */
const WARMUP = Math.min(1000, Math.floor(FUZZ_CASES / 4))
/** Bytes of one frame's body a peer writes one byte per write in the last test (as many yamux data frames). */
const TINY_WRITES_BYTES = 16 * 1024
/** What the node's event loop may be kept from its timers: the LAN profile's probe timeout, past which its members count a probe as lost. */
const MAX_STALL_MS = LAN.probeTimeoutMs
/** Streams opened by one pair of client identities before fresh ones take over (SWIM's per-peer rate limit is by identity). */
const STREAMS_PER_CLIENT = 200

// before the nodes start: see pinYoungGeneration
pinYoungGeneration()

const enc = new TextEncoder()
const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789/._-'

type Transport = 'tcp' | 'ws'

interface Counted { i: number, kind: string, bytes: Uint8Array }

// ---------------------------------------------------------------------------
// (a) multistream-select before the handshake

function protocolName (rng: Rng): string {
  switch (rng.int(8)) {
    case 0: return '/multistream/1.0.0'
    case 1: return 'ls'
    case 2: return '/' + Array.from({ length: 200 + rng.int(MSS_MAX - 205) }, () => rng.pick([...NAME_CHARS])).join('')
    default: return '/' + Array.from({ length: rng.int(40) }, () => rng.pick([...NAME_CHARS])).join('')
  }
}

const mssString = (rng: Rng): Uint8Array => lengthPrefixed(enc.encode(protocolName(rng) + '\n'))

interface MssTerminal {
  kind: string
  bytes: Uint8Array
  /** 'reject': the node must end the connection without our FIN; 'flood': the same, while we keep writing 0xff. */
  expect: 'reject' | 'flood' | 'any'
}

function mssTerminal (rng: Rng, corpus: readonly Uint8Array[]): MssTerminal {
  switch (rng.int(12)) {
    case 0: case 1: return { kind: '0xff run', bytes: new Uint8Array(1 + rng.int(64)).fill(0xff), expect: 'flood' }
    case 2: {
      // a prefix over 2 bytes: a non-minimal small length, or an incomplete one
      const bytes = rng.next() < 0.5 ? paddedVarint(rng.int(MSS_MAX), 3 + rng.int(8)) : Uint8Array.from({ length: 3 + rng.int(8) }, () => 0x80 | rng.int(128))
      return { kind: 'over-long prefix', bytes: concat(bytes, rng.bytes(rng.int(32))), expect: 'reject' }
    }
    case 3: {
      const len = rng.next() < 0.5 ? MSS_MAX + 1 + rng.int(16383 - MSS_MAX) : boundaryLength(rng, MSS_MAX)
      const bytes = concat(varint(len), rng.bytes(rng.int(64)))
      return { kind: `length ${len}`, bytes, expect: len > MSS_MAX ? 'reject' : 'any' }
    }
    case 4: {
      const body = rng.next() < 0.1 ? new Uint8Array(0) : rng.bytes(1 + rng.int(rng.next() < 0.8 ? 60 : MSS_MAX - 1))
      if (body.length > 0 && body[body.length - 1] === 0x0a) body[body.length - 1] = 0x20
      return { kind: 'string without its newline', bytes: lengthPrefixed(body), expect: 'reject' }
    }
    case 5: {
      const whole = mssString(rng)
      return { kind: 'truncated string', bytes: whole.subarray(0, 1 + rng.int(whole.length - 1)), expect: 'any' }
    }
    case 6: return { kind: 'multistream id, then garbage', bytes: concat(lengthPrefixed(enc.encode('/multistream/1.0.0\n')), rng.bytes(1 + rng.int(128))), expect: 'any' }
    case 7: {
      const noiseFrame = (): Uint8Array => {
        const body = rng.bytes(rng.pick([0, 1, 32, 48, 80, rng.int(300)]))
        const len = rng.next() < 0.6 ? body.length : rng.pick([0, 1, 0xffff, rng.int(0x10000)])
        return concat(Uint8Array.of(len >> 8, len & 0xff), body)
      }
      return { kind: 'noise selected, broken handshake', bytes: concat(lengthPrefixed(enc.encode('/multistream/1.0.0\n')), lengthPrefixed(enc.encode('/noise\n')), noiseFrame(), ...(rng.next() < 0.5 ? [noiseFrame()] : [])), expect: 'any' }
    }
    case 8: {
      // several random varints, each followed by a few bytes
      const parts = Array.from({ length: 1 + rng.int(6) }, () => concat(varint(rng.pick([0, 1, 127, 128, 1024, 1025, rng.int(2 ** 31)])), rng.bytes(rng.int(8))))
      return { kind: 'random varints', bytes: concat(...parts), expect: 'any' }
    }
    case 9: return { kind: 'random bytes', bytes: rng.bytes(1 + rng.int(256)), expect: 'any' }
    default: return { kind: 'mutated strings', bytes: mutate(rng, rng.pick(corpus), corpus), expect: 'any' }
  }
}

interface MssScript {
  transport: Transport
  cases: Counted[]
  benign: number
  terminal?: Counted & { expect: MssTerminal['expect'] }
  linger: boolean
  /** Write sizes for the bytes (re-chunking); on WebSocket each write is one or more binary messages. */
  chunking: number[]
  request: string
  /** Flood: bytes of 0xff per write. */
  floodChunk: number
  /** Its own generator for framing the bytes at send time, so that replays do not depend on timing. */
  framing: Rng
}

// ---------------------------------------------------------------------------
// (b) frames on the SWIM and work streams

const PEER_A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'

function validSwim (rng: Rng): Uint8Array {
  const seq = rng.int(1 << 20)
  const msgs: Message[] = [
    { type: 'ping', seq, target: PEER_A, updates: [] },
    { type: 'ack', seq, updates: [] },
    { type: 'gossip', updates: [] },
    { type: 'nack', seq, reason: 'timeout', updates: [] },
    { type: 'sync', reply: false, join: false, members: [] }
  ]
  return encodeMessage(rng.pick(msgs))
}

function validWork (rng: Rng): Uint8Array {
  const msgs: WireMessage[] = [
    { type: 'capacity', free: rng.int(8), slots: 8 } as WireMessage,
    { type: 'job-query', qid: rng.int(1000) },
    { type: 'job-query', qid: rng.int(1000), jobId: `job-${rng.int(100)}` }
  ]
  return encodeWire(rng.pick(msgs))
}

function streamTerminal (rng: Rng, valid: (rng: Rng) => Uint8Array, max: number): { kind: string, bytes: Uint8Array } {
  const frame = (body: Uint8Array): Uint8Array => lp.encode.single(body).subarray()
  switch (rng.int(12)) {
    case 0: return { kind: 'random body', bytes: frame(rng.bytes(rng.int(rng.next() < 0.9 ? 200 : 8192))) }
    case 1: return { kind: 'empty frame', bytes: Uint8Array.of(0) }
    case 2: {
      const len = rng.pick([max + 1, max + 1 + rng.int(max), 2 ** 31, 2 ** 32, 2 ** 53 - 1])
      return { kind: 'length over the limit', bytes: concat(varint(len), rng.bytes(rng.int(64))) }
    }
    case 3: {
      const len = rng.pick([max, max - 1, rng.int(max)])
      return { kind: 'length up to the limit, body cut short', bytes: concat(varint(len), rng.bytes(Math.min(len - 1, rng.pick([0, 100, 4096, 65536])))) }
    }
    case 4: return { kind: '0xff run', bytes: new Uint8Array(1 + rng.pick([8, 9, 10, 64, 4096, 65536])).fill(0xff) }
    case 5: return { kind: 'over-long prefix', bytes: concat(paddedVarint(rng.int(64), 2 + rng.int(12)), rng.bytes(rng.int(64))) }
    case 6: {
      const whole = frame(valid(rng))
      return { kind: 'truncated frame', bytes: whole.subarray(0, rng.int(whole.length)) }
    }
    case 7: {
      const whole = frame(valid(rng))
      const prefix = varint(whole.length + rng.pick([-2, -1, 1, 2, 100]))
      return { kind: 'wrong length', bytes: concat(prefix, whole.subarray(varint(whole.length).length)) }
    }
    case 8: return { kind: 'valid prefix, mutated body', bytes: frame(mutate(rng, valid(rng), [valid(rng)])) }
    case 9: return { kind: 'random bytes', bytes: rng.bytes(1 + rng.int(128)) }
    default: {
      const frames = [frame(valid(rng)), frame(valid(rng))]
      return { kind: 'mutated frames', bytes: mutate(rng, concat(...frames), frames) }
    }
  }
}

interface StreamScript {
  transport: Transport
  protocol: typeof SWIM_PROTOCOL | typeof WORK_PROTOCOL
  cases: Counted[]
  benign: number
  terminal?: Counted
  chunking: number[]
  /** Which pair of client identities carries it. */
  generation: number
}

// ---------------------------------------------------------------------------

/**
 * Write sizes for a fuzz case, at most MAX_WRITES writes in all: many tiny
 * writes of a large body are the subject of their own test (see the last
 * test below), and would make each case cost seconds.
 */
const MAX_WRITES = 256

function chunks (bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = []
  const least = Math.ceil(bytes.length / MAX_WRITES)
  let k = 0
  for (let at = 0; at < bytes.length;) {
    const n = sizes.length === 0 ? bytes.length : Math.max(least, sizes[k++ % sizes.length])
    out.push(bytes.subarray(at, at + n))
    at += n
  }
  return out
}

function randomChunking (rng: Rng): number[] {
  return rng.next() < 0.5 ? [] : Array.from({ length: 1 + rng.int(8) }, () => rng.pick([1, 2, 3, 7, 64, 1000, 1 + rng.int(300)]))
}

interface Peer {
  node: ClusterNode
  swim: SwimTransport
  /** Messages from the peers in `from` (the fuzz clients' valid frames are not kept). */
  received: Array<{ from: string, msg: Message }>
  from: Set<string>
}

describe('fuzz: length-prefixed framing on TCP and WebSocket', () => {
  const guard = webSocketCounter()
  let target: Peer
  let work: WorkTransport
  let addrs: Record<Transport, Multiaddr>
  let watch: FaultWatch

  async function peer (listen: string[], options: Partial<NodeOptions> = {}): Promise<Peer> {
    const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen, ...options })
    const received: Peer['received'] = []
    const watched = new Set<string>()
    const swim = createSwimTransport(node, {
      onMessage: (from, msg) => { if (watched.has(from)) received.push({ from, msg }) },
      onDeliveryFailed: () => {},
      onPeerDisconnected: () => {}
    })
    await swim.start()
    return { node, swim, received, from: watched }
  }

  before(async () => {
    target = await peer(['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'], guard.options)
    work = createWorkTransport(target.node, target.node.services.pubsub, () => {})
    await work.start()
    const all = target.node.getMultiaddrs()
    addrs = { ws: all.find(a => a.toString().includes('/ws/'))!, tcp: all.find(a => !a.toString().includes('/ws'))! }
    watch = watchFaults(() => inFlight())
  })
  /** Client nodes still running, stopped at the end even when a test fails. */
  const clientNodes = new Set<ClusterNode>()

  after(async () => {
    watch?.dispose()
    await Promise.allSettled([...clientNodes].map(async n => { await n.stop() }))
    await work?.stop()
    await target?.swim.stop()
    await target?.node.stop()
  })

  let inFlight: () => string = () => 'nothing'

  /** A fresh node sends the target a SWIM ping over `transport` and gets an ack back over the same connection. */
  async function exchangesSwim (when: string): Promise<void> {
    for (const transport of ['tcp', 'ws'] as const) {
      const checker = await peer(['/ip4/127.0.0.1/tcp/0'])
      try {
        const targetId = target.node.peerId.toString()
        const checkerId = checker.node.peerId.toString()
        target.from.add(checkerId)
        checker.from.add(targetId)
        const seq = 1 + Math.floor(Math.random() * 1e6)
        let done = false
        let lastErr = ''
        // after a burst of connections libp2p's per-IP rate limit may refuse one: try again past its window
        for (let attempt = 0; attempt < 4 && !done; attempt++) {
          const addr = addrs[transport].toString().replace(/\/p2p\/[^/]+$/, '')
          checker.swim.send({ id: targetId, addrs: [addr] }, { type: 'ping', seq, target: targetId, updates: [] })
          const deadline = Date.now() + 5000
          while (Date.now() < deadline && !target.received.some(r => r.from === checkerId && r.msg.type === 'ping' && r.msg.seq === seq)) await sleep(20)
          if (!target.received.some(r => r.from === checkerId)) { lastErr = 'ping not received'; await sleep(1100); continue }
          target.swim.send({ id: checkerId, addrs: [] }, { type: 'ack', seq, updates: [] })
          while (Date.now() < deadline + 5000 && !checker.received.some(r => r.from === targetId && r.msg.type === 'ack' && r.msg.seq === seq)) await sleep(20)
          done = checker.received.some(r => r.from === targetId && r.msg.type === 'ack')
          if (!done) lastErr = 'ack not received'
        }
        assert.ok(done, `${when}: no SWIM exchange with the node over ${transport}: ${lastErr}`)
        const via = checker.node.getConnections(target.node.peerId).map(c => c.remoteAddr.toString())
        assert.ok(via.some(a => a.includes('/ws') === (transport === 'ws')), `${when}: exchange went over ${via.join(', ')}, not ${transport}`)
        target.received.length = 0
        target.from.delete(checkerId)
      } finally {
        await checker.swim.stop()
        await checker.node.stop()
      }
    }
  }

  /** Memory growth from a baseline taken once the run is warm (code compiled, first clients made, pools at working size). */
  function memoryWatch (): { start: () => void, sample: () => void, check: (name: string) => string } {
    const watch = new MemoryWatch()
    const mib = (n: number): string => (n / 2 ** 20).toFixed(1)
    return {
      start: () => { watch.start() },
      sample: () => { watch.sample() },
      check: (name) => {
        assert.ok(watch.started, 'memory baseline taken')
        const g = watch.stop()
        assert.ok(g.rss < MAX_RSS_GROWTH, `${name}: RSS grew by ${mib(g.rss)} MiB beyond V8's young generation (over ${mib(MAX_RSS_GROWTH)} MiB)`)
        assert.ok(g.kept < MAX_RSS_GROWTH, `${name}: heap in use plus buffers grew by ${mib(g.kept)} MiB (over ${mib(MAX_RSS_GROWTH)} MiB)`)
        return `memory growth at most: RSS ${mib(g.rss)} MiB (plus ${mib(g.young)} MiB of V8 young generation), heap and buffers ${mib(g.kept)} MiB`
      }
    }
  }

  const failIfFaulted = (pool: Pool): void => {
    if (watch.faults.length > 0) throw new Error(`process-level fault:\n${watch.faults.map(describeFault).join('\n')}`)
    pool.check()
  }

  it('(a) before any handshake: varint-prefixed strings on the TCP and WebSocket listeners', { timeout: 15 * 60_000 }, async () => {
    await exchangesSwim('before (a)')
    const memory = memoryWatch()
    const pool = new Pool(Number(process.env.FUZZ_LP_PARALLEL ?? 8))
    const pacer = new Pacer(300)
    const lingering = new Set<Promise<void>>()
    const running = new Set<MssScript>()
    const tally = { connections: { tcp: 0, ws: 0 }, lingered: 0, floodBytesMax: 0, maxRejectMs: 0, closedEarly: [] as string[], byKind: new Map<string, number>() }
    let corpus: Uint8Array[] = []
    let script: MssScript | undefined
    const describeScript = (s: MssScript): string => {
      const all = s.terminal != null ? [...s.cases, s.terminal] : s.cases
      return `${s.transport} connection with cases ${all[0]?.i}..${all.at(-1)?.i} [${all.map(c => c.kind).join(', ')}]${s.linger ? ' left open' : ''}; ` +
        `bytes${s.transport === 'ws' ? ' (in binary frames after the upgrade)' : ''}: ${hex(concat(...all.map(c => c.bytes)), 2048)}`
    }
    inFlight = () => [...running].map(describeScript).join('\n    ') || 'nothing'

    async function runScript (s: MssScript): Promise<void> {
      running.add(s)
      try {
        if (s.linger) while (lingering.size >= MAX_LINGERING) await Promise.race(lingering)
        await pacer.take()
        const t = s.terminal!
        const port = Number(addrs[s.transport].toString().split('/')[4])
        const conn = await RawConn.open({ port, ...(s.transport === 'ws' ? { ws: { request: s.request } } : {}), connectTimeoutMs: 10_000 })
        tally.connections[s.transport]++
        const send = (bytes: Uint8Array): boolean => conn.write(s.transport === 'ws' ? binaryMessages(s.framing, bytes) : bytes)
        const benignBytes = concat(...s.cases.map(c => c.bytes))
        let written = 0
        for (const piece of chunks(concat(benignBytes, t.bytes), s.chunking)) {
          if (!send(piece)) break
          written += piece.length
          if (s.chunking.length > 0) await yieldIo()
          await conn.drained()
        }
        // strings multistream-select answers "na" to should never end a connection
        if (conn.nodeClosed && written < benignBytes.length) {
          // only the upgrade timeout may end it there (slow writes on a busy machine)
          const after = conn.nodeClosedAt! - conn.openedAt
          if (after < UPGRADE_TIMEOUT_MS) throw new Error(`the node ended the connection (${conn.nodeClosedBy}) ${Math.round(after)} ms after opening, during strings multistream-select should answer: ${describeScript(s)}`)
          tally.closedEarly.push(`${conn.nodeClosedBy} after ${Math.round(after)} ms`)
        }
        if (t.expect === 'flood') {
          // keep writing 0xff: the node must hang up long before FLOOD_BYTES
          while (!conn.nodeClosed && written < FLOOD_BYTES) {
            if (!send(new Uint8Array(s.floodChunk).fill(0xff))) break
            written += s.floodChunk
            await conn.drained()
            await yieldIo()
          }
          tally.floodBytesMax = Math.max(tally.floodBytesMax, written)
          if (!await conn.waitNodeClose(REJECT_BOUND_MS)) {
            conn.destroy()
            throw new Error(`a run of 0xff (${written} bytes written) did not make the node hang up: ${describeScript(s)}`)
          }
        } else if (t.expect === 'reject') {
          const t0 = performance.now()
          if (!await conn.waitNodeClose(REJECT_BOUND_MS)) {
            conn.destroy()
            throw new Error(`${t.kind}: the node kept the connection open for ${REJECT_BOUND_MS} ms: ${describeScript(s)}`)
          }
          tally.maxRejectMs = Math.max(tally.maxRejectMs, conn.nodeClosedAt! - t0)
        } else if (s.linger && !conn.nodeClosed) {
          tally.lingered++
          const p: Promise<void> = (async () => {
            if (!await conn.waitNodeClose(LINGER_BOUND_MS - (performance.now() - conn.openedAt))) {
              conn.destroy()
              pool.errors.push(new Error(`a silent connection was not closed by the node within ${LINGER_BOUND_MS} ms of opening: ${describeScript(s)}`))
              return
            }
            await conn.settle(2000)
          })().finally(() => { lingering.delete(p) })
          lingering.add(p)
          return
        } else if (!conn.nodeClosed) {
          conn.end()
          if (!await conn.waitNodeClose(FIN_BOUND_MS)) {
            conn.destroy()
            throw new Error(`the node did not close its side within ${FIN_BOUND_MS} ms of our FIN: ${describeScript(s)}`)
          }
        }
        await conn.settle(2000)
      } finally {
        running.delete(s)
      }
    }

    const reportA = await runFuzz('lp-framing (a) multistream', async (rng, i) => {
      if (i === 0) corpus = Array.from({ length: 16 }, () => concat(mssString(rng), mssString(rng)))
      failIfFaulted(pool)
      if (i === WARMUP) {
        await pool.drain()
        memory.start()
      }
      if (i > 0 && i % CHECK_EVERY === 0) {
        await pool.drain()
        failIfFaulted(pool)
        memory.sample()
        await exchangesSwim(`(a) after ${i} cases`)
      }
      if (script == null) {
        script = {
          transport: rng.next() < 0.5 ? 'tcp' : 'ws',
          cases: [],
          benign: rng.int(12),
          linger: rng.next() < 0.005,
          chunking: randomChunking(rng),
          request: upgradeRequest(rng),
          floodChunk: rng.pick([1, 2, 16, 1024, 4096]),
          framing: seeded(rng.int(2 ** 32))
        }
      }
      if (script.cases.length < script.benign) {
        script.cases.push({ i, kind: 'string', bytes: mssString(rng) })
        return
      }
      const t = script.linger ? { kind: 'silence', bytes: new Uint8Array(0), expect: 'any' as const } : mssTerminal(rng, corpus)
      tally.byKind.set(t.kind.replace(/^length \d+$/, 'length'), (tally.byKind.get(t.kind.replace(/^length \d+$/, 'length')) ?? 0) + 1)
      script.terminal = { i, ...t }
      const s = script
      script = undefined
      await pool.run(async () => { await runScript(s) })
    })
    let mem = ''
    await afterRun('lp-framing (a) multistream', reportA, async () => {
      if (script != null) {
        // the strings drawn for a connection that never got its last case: sent, then our FIN
        const s: MssScript = { ...script, linger: false, terminal: { i: reportA.cases, kind: 'end of input', bytes: new Uint8Array(0), expect: 'any' } }
        await pool.run(async () => { await runScript(s) })
      }
      await pool.drain()
      await Promise.all(lingering)
      failIfFaulted(pool)
      mem = memory.check('(a)')
      await exchangesSwim('after (a)')
      failIfFaulted(pool)
    })
    console.log(`# fuzz lp-framing (a): connections ${JSON.stringify(tally.connections)} (${tally.lingered} left silent; ${tally.closedEarly.length} reached the upgrade timeout while being written${tally.closedEarly.length > 0 ? ` ${JSON.stringify(tally.closedEarly.slice(0, 5))}` : ''}); ` +
      `0xff written before the node hung up: at most ${tally.floodBytesMax} bytes; slowest refusal ${Math.round(tally.maxRejectMs)} ms; ${mem}; WebSocket guard ${JSON.stringify(guard.snapshot())}; last cases ${JSON.stringify(Object.fromEntries(tally.byKind))}`)
  })

  it('(b) after the handshake: mutated frames on SWIM and work streams over TCP and WebSocket', { timeout: 15 * 60_000 }, async () => {
    const memory = memoryWatch()
    const pool = new Pool(Number(process.env.FUZZ_LP_PARALLEL ?? 4))
    const before = { swim: target.swim.stats(), work: work.stats() }
    const running = new Set<StreamScript>()
    const tally = { streams: 0, openFailed: 0, resets: 0, ended: 0, rotations: 0, slowestEndMs: 0, slowest: '' }
    let clients: Record<Transport, ClusterNode> | undefined
    let generation = -1
    let streamsOpened = 0
    let script: StreamScript | undefined
    const describeScript = (s: StreamScript): string => {
      const all = s.terminal != null ? [...s.cases, s.terminal] : s.cases
      return `${s.protocol} stream over ${s.transport} with cases ${all[0]?.i}..${all.at(-1)?.i} [${all.map(c => c.kind).join(', ')}]; bytes: ${hex(concat(...all.map(c => c.bytes)), 2048)}`
    }
    inFlight = () => [...running].map(describeScript).join('\n    ') || 'nothing'

    async function rotate (to: number): Promise<void> {
      await pool.drain()
      const old = clients
      clients = {
        tcp: await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: [] }),
        ws: await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: [] })
      }
      clientNodes.add(clients.tcp)
      clientNodes.add(clients.ws)
      generation = to
      tally.rotations++
      if (old != null) {
        await Promise.all([old.tcp.stop(), old.ws.stop()])
        clientNodes.delete(old.tcp)
        clientNodes.delete(old.ws)
      }
    }

    async function runScript (s: StreamScript): Promise<void> {
      running.add(s)
      try {
        const client = clients![s.transport]
        let stream: Stream
        try {
          const signal = AbortSignal.timeout(STREAM_BOUND_MS)
          const open = client.getConnections(target.node.peerId).find(c => c.status === 'open')
          stream = await (open ?? await client.dial(addrs[s.transport], { signal })).newStream(s.protocol, { signal })
        } catch (err) {
          // the node may hang up on a client over SWIM's rate limit; anything else is the node not serving
          tally.openFailed++
          if (target.swim.stats().peersDisconnected > 0 && tally.openFailed < 100) return
          throw new Error(`could not open a ${s.protocol} stream over ${s.transport}: ${(err as Error).message}`, { cause: err })
        }
        tally.streams++
        const ended = new Promise<void>(resolve => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
        const bytes = concat(...s.cases.map(c => c.bytes), s.terminal!.bytes)
        try {
          for (const piece of chunks(bytes, s.chunking)) {
            if (stream.status !== 'open' || stream.writeStatus !== 'writable') break
            if (!stream.send(piece)) await stream.onDrain({ signal: AbortSignal.timeout(STREAM_BOUND_MS) })
          }
          if (stream.status === 'open') await stream.close({ signal: AbortSignal.timeout(STREAM_BOUND_MS) })
        } catch {
          // the node reset the stream under us: what the terminal case is for
        }
        const t0 = performance.now()
        if (stream.status === 'open') {
          let timer: ReturnType<typeof setTimeout> | undefined
          await Promise.race([ended, new Promise<void>(resolve => { timer = setTimeout(resolve, STREAM_BOUND_MS) })])
          clearTimeout(timer)
        }
        if (stream.status === 'open') {
          stream.abort(new Error('fuzz: not ended by the node'))
          throw new Error(`the node did not end the stream within ${STREAM_BOUND_MS} ms of our close: ${describeScript(s)}`)
        }
        if (performance.now() - t0 > tally.slowestEndMs) {
          tally.slowestEndMs = performance.now() - t0
          tally.slowest = `${s.protocol} over ${s.transport}, ${s.terminal!.kind} after ${s.cases.length} valid frames`
        }
        if (stream.status === 'reset' || stream.status === 'aborted') tally.resets++
        else tally.ended++
      } finally {
        running.delete(s)
      }
    }

    const reportB = await runFuzz('lp-framing (b) streams', async (rng, i) => {
      failIfFaulted(pool)
      if (i === WARMUP) {
        await pool.drain()
        memory.start()
      }
      if (i > 0 && i % CHECK_EVERY === 0) {
        await pool.drain()
        failIfFaulted(pool)
        memory.sample()
        await exchangesSwim(`(b) after ${i} cases`)
      }
      if (script == null) {
        const protocol = rng.next() < 0.5 ? SWIM_PROTOCOL : WORK_PROTOCOL
        script = {
          transport: rng.next() < 0.5 ? 'tcp' : 'ws',
          protocol,
          cases: [],
          benign: rng.int(24),
          chunking: randomChunking(rng),
          generation: Math.floor(streamsOpened++ / STREAMS_PER_CLIENT)
        }
      }
      const swim = script.protocol === SWIM_PROTOCOL
      const valid = swim ? validSwim : validWork
      if (script.cases.length < script.benign) {
        script.cases.push({ i, kind: 'valid frame', bytes: lp.encode.single(valid(rng)).subarray() })
        return
      }
      script.terminal = { i, ...streamTerminal(rng, valid, swim ? DEFAULT_TRANSPORT_CONFIG.maxMessageBytes : DEFAULT_WORK_TRANSPORT_CONFIG.maxMessageBytes) }
      const s = script
      script = undefined
      if (s.generation !== generation) await rotate(s.generation)
      await pool.run(async () => { await runScript(s) })
    })
    let mem = ''
    await afterRun('lp-framing (b) streams', reportB, async () => {
      await pool.drain()
      failIfFaulted(pool)
      if (clients != null) {
        await Promise.all([clients.tcp.stop(), clients.ws.stop()])
        clientNodes.clear()
      }
      mem = memory.check('(b)')
      await exchangesSwim('after (b)')
      failIfFaulted(pool)
    })
    const after = { swim: target.swim.stats(), work: work.stats() }
    const grew = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => Object.fromEntries(Object.keys(b).map(k => [k, b[k] - a[k]]))
    const dSwim = grew(before.swim.dropped, after.swim.dropped)
    const dWork = grew(before.work.dropped, after.work.dropped)
    console.log(`# fuzz lp-framing (b): ${tally.streams} streams (${tally.resets} reset by the node, ${tally.ended} closed, ${tally.openFailed} not opened), ${tally.rotations} client pairs; ` +
      `slowest end ${Math.round(tally.slowestEndMs)} ms (${tally.slowest}); swim dropped ${JSON.stringify(dSwim)}, messagesIn +${after.swim.messagesIn - before.swim.messagesIn}, peersDisconnected ${after.swim.peersDisconnected}; ` +
      `work dropped ${JSON.stringify(dWork)}, directIn +${after.work.directIn - before.work.directIn}; ${mem}`)
    assert.ok(dSwim.malformed > 0 && dSwim.oversized > 0, `SWIM malformed and oversized drops counted: ${JSON.stringify(dSwim)}`)
    assert.ok(dWork.malformed > 0 && dWork.oversized > 0, `work malformed and oversized drops counted: ${JSON.stringify(dWork)}`)
  })
  it('(b) one byte per write: a peer writing a frame in tiny writes does not stall the node', { timeout: 5 * 60_000 }, async () => {
    // The peer runs in its own process: what is measured here is the node's event loop alone.
    const peerScript = fileURLToPath(new URL('./tiny-writes-peer.ts', import.meta.url))
    const results: string[] = []
    let stalled = false
    for (const transport of ['tcp', 'ws'] as const) {
      const lag = eventLoopLag()
      const cpu = process.cpuUsage()
      const child = spawn(process.execPath, [peerScript, addrs[transport].toString(), SWIM_PROTOCOL, String(DEFAULT_TRANSPORT_CONFIG.maxMessageBytes), String(TINY_WRITES_BYTES), '1'], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      const killer = setTimeout(() => { child.kill() }, 120_000)
      const code = await new Promise<number | null>(resolve => { child.on('exit', resolve) })
      clearTimeout(killer)
      const maxLag = lag.stop()
      const used = process.cpuUsage(cpu)
      const peer = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { ended?: boolean, endMs?: number, sendMs?: number }
      assert.equal(code, 0, `the peer process over ${transport} exited with ${code}: ${out}`)
      assert.ok(peer.ended === true, `over ${transport}: the node did not end the stream: ${out}`)
      if (maxLag >= MAX_STALL_MS) stalled = true
      results.push(`${transport}: event loop held for up to ${Math.round(maxLag)} ms, node CPU ${Math.round((used.user + used.system) / 1000)} ms, peer wrote for ${peer.sendMs} ms and saw the stream end ${peer.endMs} ms after its close`)
    }
    console.log(`# fuzz lp-framing tiny writes: a SWIM frame declared ${DEFAULT_TRANSPORT_CONFIG.maxMessageBytes} bytes long, ${TINY_WRITES_BYTES} bytes of its body in 1-byte writes; ${results.join('; ')}`)
    await exchangesSwim('after tiny writes')
    assert.ok(!stalled, `${TINY_WRITES_BYTES} one-byte writes (one yamux data frame each) on one stream kept the node's event loop from its timers for over ${MAX_STALL_MS} ms (SWIM's LAN probe timeout): ${results.join('; ')}`)
  })
})
