/**
 * Fuzz of the WebSocket listener after a valid HTTP upgrade: one libp2p node
 * (gossip/libp2p-node.ts, its WebSocket listener guarded) in this process, and raw
 * sockets on 127.0.0.1 that upgrade and then write generated frames.
 *
 * A case is one frame, or one fragmented sequence. Frames that keep the
 * connection open (pings, pongs, empty messages, multistream-select strings
 * the node answers with "na", fragmented or not, text or binary) are batched
 * on one connection, and each connection ends with one case drawn to end it:
 * random bytes; frames with random FIN/RSV/opcode/mask bits and lengths at
 * the 7/16/64-bit bounds, huge or lying; control frames over 125 bytes;
 * broken fragmentation; close frames with bad codes or payloads; unmasked
 * frames; invalid UTF-8 text; messages over the size limit; and valid frames
 * carrying random bytes or a mutated multistream/noise handshake (which then
 * reach libp2p's multistream-select and noise).
 *
 * Rules: the process never throws (an unhandled `error` would end it); a
 * connection whose last frame ws must reject is closed by the node on its
 * own; every other connection is closed by the node once we half-close it,
 * or (a sample left open and silent) within the inbound upgrade timeout;
 * and another libp2p node can still dial it over WebSocket and TCP and use a
 * stream, at the start, periodically and at the end.
 *
 * FUZZ_WS_PARALLEL sets the sockets in flight (default 8).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as yieldIo, setTimeout as sleep } from 'node:timers/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createNode, type ClusterNode } from '../../gossip/index.ts'
import { concat, mutate, runFuzz, type Rng } from './fuzz.ts'
import {
  OP, Pacer, Pool, RawConn, afterRun, binaryMessage, binaryMessages, describeFault, hex, lengthPrefixed, maskKey, upgradeRequest, varint, watchFaults, webSocketCounter, wsFrame,
  type FaultWatch
} from './net-kit.ts'

const ECHO = '/fuzz/echo/1.0.0'
/** The guard's DEFAULT_WEBSOCKET_GUARD.maxMessageBytes. */
const MAX_MESSAGE = 256 * 1024
/** libp2p's default inbound upgrade timeout: a connection that never completes noise is closed by then. */
const UPGRADE_TIMEOUT_MS = 10_000
/**
 * Bounds on how long the node may take to close a connection. Generous: the
 * machine running the fuzz may be shared and busy; a node that does not close
 * at all misses them by minutes (the guard's idle timeout) or forever.
 */
const REJECT_BOUND_MS = 5000
const FIN_BOUND_MS = 5000
const LINGER_BOUND_MS = UPGRADE_TIMEOUT_MS + 10_000
/** Connections left open and silent at once (each holds a pending upgrade on the node until its timeout). */
const MAX_LINGERING = 16
const PARALLEL = Number(process.env.FUZZ_WS_PARALLEL ?? 8)
/** Cases between two checks that the node still serves. */
const CHECK_EVERY = 1000

const enc = new TextEncoder()

interface Case { i: number, kind: string, bytes: Uint8Array }
interface Terminal extends Case {
  /** 'reject': ws must refuse it, so the node closes without our FIN. */
  expect: 'reject' | 'any'
}
interface Script {
  cases: Case[]
  terminal?: Terminal
  /** Benign cases before the terminal one. */
  benign: number
  request: string
  /** The first case goes out in the same write as the upgrade request. */
  pipelined: boolean
  /** Left open and silent after the last case: the node must close it by itself. */
  linger: boolean
  /** Write each case separately, letting the node read in between. */
  paced: boolean
}

// ---------------------------------------------------------------------------
// Generators

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789/._-'

/** A protocol id multistream-select answers "na" (or its own id, or a list) to: the connection stays. */
function protocolName (rng: Rng): string {
  switch (rng.int(8)) {
    case 0: return '/multistream/1.0.0'
    case 1: return 'ls'
    case 2: return '/' + Array.from({ length: 200 + rng.int(820) }, () => rng.pick([...NAME_CHARS])).join('')
    default: return '/' + Array.from({ length: rng.int(40) }, () => rng.pick([...NAME_CHARS])).join('')
  }
}

function mssString (rng: Rng): Uint8Array {
  return lengthPrefixed(enc.encode(protocolName(rng) + '\n'))
}

/** A case that a correct listener takes without closing the connection. */
function benign (rng: Rng): { kind: string, bytes: Uint8Array } {
  switch (rng.int(8)) {
    case 0: return { kind: 'ping', bytes: wsFrame({ opcode: OP.ping, mask: maskKey(rng), payload: rng.bytes(rng.pick([0, 1, 2, 124, 125, rng.int(126)])) }) }
    case 1: return { kind: 'pong', bytes: wsFrame({ opcode: OP.pong, mask: maskKey(rng), payload: rng.bytes(rng.int(126)) }) }
    case 2: return { kind: 'empty message', bytes: binaryMessage(rng, new Uint8Array(0)) }
    case 3: return { kind: 'mss string, text frame', bytes: binaryMessage(rng, lengthPrefixed(enc.encode(protocolName(rng).slice(0, 120) + '\n')), OP.text) }
    case 4: return { kind: 'mss strings over several messages', bytes: binaryMessages(rng, concat(mssString(rng), mssString(rng))) }
    case 5: {
      // a non-minimal 64-bit length form is still a valid length
      const payload = mssString(rng)
      return { kind: 'mss string, 64-bit length', bytes: wsFrame({ opcode: OP.binary, mask: maskKey(rng), payload, form: 64 }) }
    }
    default: return { kind: 'mss string', bytes: binaryMessage(rng, mssString(rng)) }
  }
}

const BAD_CLOSE_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
const GOOD_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
const INVALID_UTF8 = [Uint8Array.of(0xff), Uint8Array.of(0xc0, 0xaf), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xe2, 0x82), Uint8Array.of(0xf4, 0x90, 0x80, 0x80)]
const LENGTHS: Array<number | bigint> = [0, 1, 125, 126, 127, 128, 0xffff, 0x10000, MAX_MESSAGE, MAX_MESSAGE + 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]

/** A frame (sequence) drawn to end a connection; it may or may not be one ws refuses. */
function terminal (rng: Rng, corpus: readonly Uint8Array[]): { kind: string, bytes: Uint8Array, expect: 'reject' | 'any' } {
  const reject = (kind: string, bytes: Uint8Array): { kind: string, bytes: Uint8Array, expect: 'reject' } => ({ kind, bytes, expect: 'reject' })
  const any = (kind: string, bytes: Uint8Array): { kind: string, bytes: Uint8Array, expect: 'any' } => ({ kind, bytes, expect: 'any' })
  switch (rng.int(16)) {
    case 0: return any('random bytes', rng.bytes(1 + rng.int(rng.next() < 0.9 ? 64 : 2048)))
    case 1: case 2: {
      // every header bit random, the length on a boundary, the payload as long as declared up to a few hundred bytes
      const declared = rng.pick(LENGTHS)
      const form = rng.pick([7, 16, 64, undefined] as const)
      const mask = rng.next() < 0.5 ? maskKey(rng) : null
      const sent = rng.bytes(Math.min(Number(BigInt(declared) > 300n ? 300n : BigInt(declared)), rng.pick([0, 16, 300])))
      return any('random header bits', wsFrame({ fin: rng.next() < 0.5, rsv: rng.int(8), opcode: rng.int(16), mask, payload: sent, declared, form }))
    }
    case 3: {
      const opcode = rng.pick([OP.ping, OP.pong, OP.close])
      return reject('control frame over 125 bytes', wsFrame({ opcode, mask: maskKey(rng), payload: rng.bytes(126 + rng.int(200)), form: rng.next() < 0.8 ? 16 : 64 }))
    }
    case 4: {
      switch (rng.int(5)) {
        case 0: return reject('continuation without a start', wsFrame({ opcode: OP.continuation, mask: maskKey(rng), payload: rng.bytes(rng.int(20)) }))
        case 1: return reject('new message inside a fragmented one', concat(
          wsFrame({ fin: false, opcode: OP.binary, mask: maskKey(rng), payload: rng.bytes(rng.int(10)) }),
          wsFrame({ opcode: rng.pick([OP.binary, OP.text]), mask: maskKey(rng), payload: rng.bytes(rng.int(10)) })))
        case 2: return reject('fragmented control frame', wsFrame({ fin: false, opcode: rng.pick([OP.ping, OP.pong, OP.close]), mask: maskKey(rng), payload: rng.bytes(rng.int(10)) }))
        case 3: {
          // fragments adding up to more than the message limit
          const piece = 32 * 1024 + rng.int(32 * 1024)
          const frames = [wsFrame({ fin: false, opcode: OP.binary, mask: maskKey(rng), payload: new Uint8Array(piece) })]
          for (let total = piece; total <= MAX_MESSAGE; total += piece) frames.push(wsFrame({ fin: false, opcode: OP.continuation, mask: maskKey(rng), payload: new Uint8Array(piece) }))
          return reject('fragments over the message limit', concat(...frames))
        }
        default: return any('fragmented, never finished', wsFrame({ fin: false, opcode: OP.binary, mask: maskKey(rng), payload: rng.bytes(rng.int(40)) }))
      }
    }
    case 5: {
      const code = rng.pick(BAD_CLOSE_CODES)
      const reason = rng.next() < 0.3 ? rng.pick(INVALID_UTF8) : new Uint8Array(0)
      const payload = rng.next() < 0.2 ? rng.bytes(1) : concat(Uint8Array.of(code >> 8, code & 0xff), reason)
      // code 1005/1006 may not be sent; a one-byte payload is malformed; an invalid reason is not UTF-8
      return reject('bad close frame', wsFrame({ opcode: OP.close, mask: maskKey(rng), payload }))
    }
    case 6: {
      const code = rng.pick(GOOD_CLOSE_CODES)
      const payload = rng.next() < 0.2 ? new Uint8Array(0) : concat(Uint8Array.of(code >> 8, code & 0xff), enc.encode('bye'.repeat(rng.int(40))))
      return reject('valid close frame', wsFrame({ opcode: OP.close, mask: maskKey(rng), payload }))
    }
    case 7: return reject('unmasked frame', wsFrame({ opcode: rng.pick([OP.binary, OP.text, OP.ping]), mask: null, payload: rng.bytes(rng.int(100)) }))
    case 8: return reject('RSV bits set', wsFrame({ rsv: 1 + rng.int(7), opcode: rng.pick([OP.binary, OP.text, OP.ping, OP.continuation]), mask: maskKey(rng), payload: rng.bytes(rng.int(40)) }))
    case 9: return reject('reserved opcode', wsFrame({ opcode: rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), mask: maskKey(rng), payload: rng.bytes(rng.int(40)) }))
    case 10: return reject('invalid UTF-8 text', binaryMessage(rng, concat(enc.encode('/x'), rng.pick(INVALID_UTF8), enc.encode('\n')), OP.text))
    case 11: {
      const declared = rng.pick<number | bigint>([MAX_MESSAGE + 1, 2 ** 32, 2 ** 53 - 1, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n])
      return reject('declared length over the limit', wsFrame({ opcode: rng.pick([OP.binary, OP.text, OP.continuation]), mask: maskKey(rng), payload: rng.bytes(rng.int(64)), declared, form: 64 }))
    }
    case 12: return any('valid frame, random bytes', binaryMessage(rng, rng.bytes(1 + rng.int(rng.next() < 0.9 ? 64 : 4096))))
    case 13: {
      // the start of a real inbound upgrade, then a broken noise handshake: noise frames are 2-byte big-endian length prefixed
      const noiseFrame = (): Uint8Array => {
        const body = rng.bytes(rng.pick([0, 1, 32, 48, 80, rng.int(200)]))
        const len = rng.next() < 0.7 ? body.length : rng.pick([0, 1, 0xffff, rng.int(0x10000)])
        return concat(Uint8Array.of(len >> 8, len & 0xff), body)
      }
      let bytes = concat(mssString(rng), lengthPrefixed(enc.encode('/multistream/1.0.0\n')), lengthPrefixed(enc.encode('/noise\n')), noiseFrame(), ...(rng.next() < 0.5 ? [noiseFrame()] : []))
      if (rng.next() < 0.5) bytes = mutate(rng, bytes, corpus)
      return any('multistream, then a broken noise handshake', binaryMessages(rng, bytes))
    }
    case 14: {
      // a valid multistream string with a lying prefix: longer than the data, or over multistream's 1024-byte limit
      const body = enc.encode(protocolName(rng) + '\n')
      const prefix = rng.next() < 0.5 ? varint(body.length + 1 + rng.int(100)) : varint(1025 + rng.int(1 << 20))
      return any('multistream string, lying prefix', binaryMessage(rng, concat(prefix, body)))
    }
    default: return any('mutated frames', mutate(rng, rng.pick(corpus), corpus))
  }
}

/** Valid frame sequences the mutator starts from. */
function frameCorpus (rng: Rng): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let k = 0; k < 32; k++) out.push(benign(rng).bytes)
  out.push(wsFrame({ opcode: OP.close, payload: Uint8Array.of(0x03, 0xe8) }))
  out.push(concat(wsFrame({ fin: false, opcode: OP.binary, payload: mssString(rng) }), wsFrame({ opcode: OP.continuation, payload: mssString(rng) })))
  return out
}

// ---------------------------------------------------------------------------

describe('fuzz: WebSocket frames after the HTTP upgrade', () => {
  const guard = webSocketCounter()
  let node: ClusterNode
  let checker: ClusterNode
  let wsAddr: Multiaddr
  let tcpAddr: Multiaddr
  let wsPort: number
  let watch: FaultWatch

  before(async () => {
    node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'], ...guard.options })
    await node.handle(ECHO, async (stream) => {
      for await (const chunk of stream) stream.send(chunk)
      await stream.close()
    })
    checker = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    const addrs = node.getMultiaddrs()
    wsAddr = addrs.find(a => a.toString().includes('/ws/'))!
    tcpAddr = addrs.find(a => !a.toString().includes('/ws'))!
    wsPort = Number(wsAddr.toString().split('/')[4])
  })
  after(async () => {
    watch?.dispose()
    await checker?.stop()
    await node?.stop()
  })

  /** A new connection over each transport, a stream on it, an echo back: the node still serves. */
  async function stillServes (when: string): Promise<void> {
    for (const addr of [wsAddr, tcpAddr]) {
      const payload = enc.encode(`alive? ${when}`)
      let lastErr: unknown
      // a refused dial right after a burst can be libp2p's per-IP connection rate limit: try again past its window
      for (let attempt = 0; attempt < 4; attempt++) {
        try {
          const stream = await checker.dialProtocol(multiaddr(addr.toString()), ECHO, { signal: AbortSignal.timeout(10_000) })
          stream.send(payload)
          await stream.close({ signal: AbortSignal.timeout(10_000) })
          const got: Uint8Array[] = []
          for await (const chunk of stream) got.push(chunk.subarray())
          assert.deepEqual(Buffer.concat(got), Buffer.from(payload))
          await checker.hangUp(node.peerId)
          lastErr = undefined
          break
        } catch (err) {
          lastErr = err
          await checker.hangUp(node.peerId).catch(() => {})
          await sleep(1100)
        }
      }
      if (lastErr != null) throw new Error(`${when}: the node no longer serves over ${addr.toString()}: ${(lastErr as Error).message}`, { cause: lastErr })
    }
  }

  it('malformed and valid frames: no crash, every connection closed by the node in bounded time, still serving', { timeout: 15 * 60_000 }, async () => {
    await stillServes('before the fuzz')
    const pool = new Pool(PARALLEL)
    const pacer = new Pacer(300)
    const lingering = new Set<Promise<void>>()
    const inFlight = new Set<Script>()
    const tally = { connections: 0, closedEarly: 0, lingered: 0, maxCloseMs: 0, byHow: new Map<string, number>(), earlyKinds: new Map<string, number>() }
    let corpus: Uint8Array[] = []
    let script: Script | undefined
    const describeScript = (s: Script): string => {
      const all = s.terminal != null ? [...s.cases, s.terminal] : s.cases
      return `connection with cases ${all[0]?.i}..${all.at(-1)?.i} [${all.map(c => c.kind).join(', ')}]${s.linger ? ' left open' : ''}${s.pipelined ? ', first case sent with the upgrade request' : ''}; bytes after the upgrade: ${hex(concat(...all.map(c => c.bytes)), 2048)}`
    }
    watch = watchFaults(() => [...inFlight].map(describeScript).join('\n    ') || 'nothing')

    const closed = (conn: RawConn): void => {
      tally.byHow.set(conn.nodeClosedBy ?? '?', (tally.byHow.get(conn.nodeClosedBy ?? '?') ?? 0) + 1)
    }

    async function runScript (s: Script): Promise<void> {
      inFlight.add(s)
      try {
        if (s.linger) {
          while (lingering.size >= MAX_LINGERING) await Promise.race(lingering)
        }
        await pacer.take()
        const t = s.terminal!
        const all = [...s.cases, t]
        const conn = await RawConn.open({ port: wsPort, ws: { request: s.request, head: s.pipelined ? all[0].bytes : undefined }, connectTimeoutMs: 10_000 })
        tally.connections++
        for (const c of s.pipelined ? all.slice(1) : all) {
          if (c === t && s.cases.length > 0 && !s.paced) await yieldIo()
          if (!conn.write(c.bytes)) {
            // closed before a case meant to keep it open: note which (a valid frame should not end a connection)
            tally.closedEarly++
            const last = all[all.indexOf(c) - 1]
            if (last != null) tally.earlyKinds.set(`${last.kind} -> ${conn.nodeClosedBy}`, (tally.earlyKinds.get(`${last.kind} -> ${conn.nodeClosedBy}`) ?? 0) + 1)
            break
          }
          if (s.paced) await yieldIo()
          await conn.drained()
        }
        if (t.expect === 'reject') {
          const t0 = performance.now()
          if (!await conn.waitNodeClose(REJECT_BOUND_MS)) {
            conn.destroy()
            throw new Error(`a frame ws must reject (${t.kind}) left the connection open for ${REJECT_BOUND_MS} ms: ${describeScript(s)}`)
          }
          tally.maxCloseMs = Math.max(tally.maxCloseMs, conn.nodeClosedAt! - t0)
          closed(conn)
          await conn.settle(2000)
          return
        }
        if (s.linger && !conn.nodeClosed) {
          tally.lingered++
          // the slot is free again; the node must end this one within its upgrade timeout
          const p: Promise<void> = (async () => {
            const left = LINGER_BOUND_MS - (performance.now() - conn.openedAt)
            if (!await conn.waitNodeClose(left)) {
              conn.destroy()
              pool.errors.push(new Error(`a silent connection was not closed by the node within ${LINGER_BOUND_MS} ms of opening: ${describeScript(s)}`))
              return
            }
            closed(conn)
            await conn.settle(2000)
          })().finally(() => { lingering.delete(p) })
          lingering.add(p)
          return
        }
        if (!conn.nodeClosed) {
          conn.end()
          if (!await conn.waitNodeClose(FIN_BOUND_MS)) {
            conn.destroy()
            throw new Error(`the node did not close its side within ${FIN_BOUND_MS} ms of our FIN: ${describeScript(s)}`)
          }
          tally.maxCloseMs = Math.max(tally.maxCloseMs, conn.nodeClosedAt! - conn.endedAt!)
        }
        closed(conn)
        await conn.settle(2000)
      } finally {
        inFlight.delete(s)
      }
    }

    const failIfFaulted = (): void => {
      if (watch.faults.length > 0) throw new Error(`process-level fault:\n${watch.faults.map(describeFault).join('\n')}`)
      pool.check()
    }

    const report = await runFuzz('ws-frames', async (rng, i) => {
      if (i === 0) corpus = frameCorpus(rng)
      failIfFaulted()
      if (i > 0 && i % CHECK_EVERY === 0) {
        await pool.drain()
        failIfFaulted()
        await stillServes(`after ${i} cases`)
      }
      if (script == null) {
        script = {
          cases: [],
          benign: rng.int(16),
          request: upgradeRequest(rng),
          pipelined: rng.next() < 0.2,
          linger: rng.next() < 0.01,
          paced: rng.next() < 0.3
        }
      }
      if (script.cases.length < script.benign) {
        script.cases.push({ i, ...benign(rng) })
        return
      }
      // a lingering connection ends silent: its last case is no frame at all
      script.terminal = script.linger ? { i, kind: 'silence', bytes: new Uint8Array(0), expect: 'any' } : { i, ...terminal(rng, corpus) }
      const s = script
      script = undefined
      await pool.run(async () => { await runScript(s) })
    })
    await afterRun('ws-frames', report, async () => {
      if (script != null) {
        // the cases drawn for a connection that never got its last one: sent, then our FIN
        const s: Script = { ...script, linger: false, terminal: { i: report.cases, kind: 'silence', bytes: new Uint8Array(0), expect: 'any' } }
        await pool.run(async () => { await runScript(s) })
      }
      await pool.drain()
      await Promise.all(lingering)
      failIfFaulted()
      await stillServes('after the fuzz')
      failIfFaulted()
    })
    console.log(`# fuzz ws-frames: ${tally.connections} connections (${tally.lingered} left silent), closed by the node via ${JSON.stringify(Object.fromEntries(tally.byHow))}; ` +
      `slowest close ${Math.round(tally.maxCloseMs)} ms; ${tally.closedEarly} closed before their last case ${JSON.stringify(Object.fromEntries(tally.earlyKinds))}; guard ${JSON.stringify(guard.snapshot())}`)
    assert.ok(guard.badFrames() > 0, 'frames ws refused were counted by the guard')
  })
})
