/**
 * Network-level attacks on real agents, from anyone who can reach their
 * listen ports (no key, no handshake): malformed WebSocket frames after a
 * valid upgrade, silent connections, over-long length prefixes and garbage,
 * and a connect/disconnect storm. Each is bounded in count and time and sent
 * to 127.0.0.1 only. After each one the target must have lived, answered its
 * API within 1 s throughout, never been reported suspect or failed by the
 * other members, grown its RSS by less than 64 MB (hostile.ts), and still
 * accept connections on both ports; what it rejected is seen closed and,
 * where /v1/stats has a counter for it, counted.
 */
import { describe, it, before, after, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { killAll, startCluster, waitAllSee, waitFor, type AgentProcess } from './harness.ts'
import { seededRandom } from '../../membership/random.ts'
import { agentStats, assertSurvived, describeReport, fdCount, underAttack, type AttackReport } from './hostile.ts'

interface NetStats {
  inbound: {
    upgradesFailed: { tcp: number, ws: number }
    webSocket: { badFrames: number, idleClosed: number, refused: number }
  }
}

/** The guard's budget for the HTTP upgrade and libp2p's for the inbound upgrade (both 10 s), plus slack for a loaded machine. */
const SILENT_CLOSE_MS = 15_000

// ---- raw connections -------------------------------------------------------

interface Raw {
  socket: Socket
  openedAt: number
  /** Everything the agent sent (capped). */
  received: () => Buffer
  /**
   * Resolves when the connection ended, with who ended it and when. After a
   * WebSocket upgrade the agent's close frame ends it: ws then keeps the TCP
   * socket for its closing handshake, which a hostile client never completes.
   */
  ended: Promise<{ by: 'agent' | 'us', at: number, how: string }>
  /** From now on a close frame from the agent counts as the end (set once upgraded). */
  websocket: boolean
  /** Closes it from our side (no effect if the agent already did). */
  drop: () => void
}

const RECEIVE_CAP = 64 * 1024

/** A TCP connection to 127.0.0.1:port; rejects if it cannot be opened. */
async function open (port: number): Promise<Raw> {
  const socket = connect({ port, host: '127.0.0.1' })
  const chunks: Buffer[] = []
  let size = 0
  let dropped = false
  let end: (how: string) => void = () => {}
  const raw: Raw = {
    socket,
    openedAt: performance.now(),
    received: () => Buffer.concat(chunks),
    ended: new Promise(resolve => { end = how => { resolve({ by: dropped ? 'us' : 'agent', at: performance.now(), how }) } }),
    websocket: false,
    drop: () => { dropped = true; socket.destroy() }
  }
  socket.on('data', (d: Buffer) => {
    if (size < RECEIVE_CAP) { chunks.push(d); size += d.length }
    if (raw.websocket && closeCode(raw) != null) end('close frame')
  })
  socket.once('end', () => { end('FIN') })
  // a reset, or EPIPE on writing after the agent closed
  socket.on('error', (err: NodeJS.ErrnoException) => { end(err.code ?? 'error') })
  socket.once('close', () => { end('closed') })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return raw
}

/** Waits until the agent ends the connection; fails if it stays open for `ms` or if we ended it. */
async function endedByAgent (raw: Raw, ms: number, what: string): Promise<number> {
  let timer: NodeJS.Timeout | undefined
  const r = await Promise.race([raw.ended, new Promise<undefined>(resolve => { timer = setTimeout(() => { resolve(undefined) }, ms) })])
  clearTimeout(timer)
  assert.ok(r != null, `${what}: still open after ${ms} ms`)
  assert.equal(r.by, 'agent', `${what}: ended by us`)
  // Gone without answering a close frame: ws would otherwise keep its socket
  // for the closing handshake (30 s), which the descriptor check would see.
  raw.drop()
  return r.at - raw.openedAt
}

function portOf (agent: AgentProcess, ws: boolean): number {
  const addr = agent.multiaddrs.find(a => a.includes('/ws/') === ws)
  assert.ok(addr != null, `${agent.name} has no ${ws ? 'WebSocket' : 'TCP'} address: ${agent.multiaddrs.join(' ')}`)
  return Number(/\/tcp\/(\d+)/.exec(addr)![1])
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T, R> (items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  }))
  return out
}

// ---- WebSocket framing ------------------------------------------------------

const UPGRADE = [
  'GET / HTTP/1.1', 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', '', ''
].join('\r\n')

/** A connection that completed a valid HTTP upgrade (101) on the WebSocket port. */
async function upgraded (port: number): Promise<Raw> {
  const raw = await open(port)
  raw.socket.write(UPGRADE)
  const headerEnd = (): boolean => raw.received().includes('\r\n\r\n')
  if (!headerEnd()) {
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>((resolve, reject) => {
      const onData = (): void => { if (headerEnd()) resolve() }
      raw.socket.on('data', onData)
      void raw.ended.then(e => { reject(new Error(`upgrade not answered: connection ended (${e.how}) after ${Math.round(e.at - raw.openedAt)} ms`)) })
      timer = setTimeout(() => { reject(new Error('upgrade not answered within 10 s')) }, 10_000)
    }).finally(() => { clearTimeout(timer) })
  }
  const head = raw.received().toString('latin1')
  assert.match(head, /^HTTP\/1\.1 101 /, `upgrade refused: ${head.slice(0, 200)}`)
  raw.websocket = true
  return raw
}

interface FrameSpec {
  opcode: number
  payload?: Uint8Array
  fin?: boolean
  /** RSV1..3 as the 3-bit value written to bits 6..4 of the first byte. */
  rsv?: number
  /** Clients must mask; false sends the payload in clear. */
  mask?: boolean
  /** Length written in the header instead of the payload's (64-bit form). */
  declared?: bigint
}

/** One WebSocket frame as a client sends it, valid or not as specified. */
function frame ({ opcode, payload = new Uint8Array(0), fin = true, rsv = 0, mask = true, declared }: FrameSpec): Buffer {
  const first = (fin ? 0x80 : 0) | (rsv << 4) | opcode
  const maskBit = mask ? 0x80 : 0
  let header: Buffer
  if (declared != null) {
    header = Buffer.alloc(10)
    header[1] = maskBit | 127
    header.writeBigUInt64BE(declared, 2)
  } else if (payload.length < 126) {
    header = Buffer.from([0, maskBit | payload.length])
  } else if (payload.length < 65536) {
    header = Buffer.alloc(4)
    header[1] = maskBit | 126
    header.writeUInt16BE(payload.length, 2)
  } else {
    header = Buffer.alloc(10)
    header[1] = maskBit | 127
    header.writeBigUInt64BE(BigInt(payload.length), 2)
  }
  header[0] = first
  if (!mask) return Buffer.concat([header, payload])
  const key = randomBytes(4)
  const body = Buffer.from(payload)
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3]
  return Buffer.concat([header, key, body])
}

/** The status code of the first close frame the agent sent after the 101 response, if one arrived whole. */
function closeCode (raw: Raw): number | undefined {
  const all = raw.received()
  let at = all.indexOf('\r\n\r\n') + 4
  while (at + 2 <= all.length) {
    const opcode = all[at] & 0x0f
    let len = all[at + 1] & 0x7f
    let off = at + 2
    if (len === 126) {
      if (off + 2 > all.length) return undefined
      len = all.readUInt16BE(off)
      off += 2
    } else if (len === 127) {
      if (off + 8 > all.length) return undefined
      len = Number(all.readBigUInt64BE(off))
      off += 8
    }
    if (off + len > all.length) return undefined
    // an empty close frame carries no code: 1005 by RFC 6455
    if (opcode === 0x8) return len >= 2 ? all.readUInt16BE(off) : 1005
    at = off + len
  }
  return undefined
}

/** A length prefix that never ends: every byte says "more follows". */
const ENDLESS_PREFIX = Buffer.alloc(100 * 1024, 0xff)

/** Deterministic garbage (the core's seeded generator), so that a failure names a reproducible input. */
function garbage (seed: number, size: number): Buffer {
  const random = seededRandom(seed)
  return Buffer.from(Array.from({ length: size }, () => Math.floor(random() * 256)))
}

const MULTISTREAM = Buffer.concat([Buffer.from([19]), Buffer.from('/multistream/1.0.0\n')])

/**
 * Both listeners still serve a newcomer: the TCP port answers multistream's
 * header with its own, and the WebSocket port upgrades and does the same
 * inside a frame. A wedged listener (every slot held, accept loop stuck)
 * fails this even when the API is fine.
 */
async function listenersServe (agent: AgentProcess): Promise<void> {
  const before = (await agentStats<NetStats>(agent)).inbound.upgradesFailed
  const tcp = await open(portOf(agent, false))
  const ws = await upgraded(portOf(agent, true))
  try {
    tcp.socket.write(MULTISTREAM)
    ws.socket.write(frame({ opcode: 0x2, payload: MULTISTREAM }))
    await waitFor(`${agent.name} answers multistream on TCP`, async () => tcp.received().includes(MULTISTREAM), 5000, 10)
    await waitFor(`${agent.name} answers multistream on WebSocket`, async () => ws.received().includes(MULTISTREAM), 5000, 10)
  } finally {
    tcp.drop()
    ws.drop()
  }
  // Both handshakes are abandoned: libp2p counts each as a failed upgrade, the WebSocket one
  // after its close handshake. Waiting for both keeps the next test's counts its own.
  await waitFor(`${agent.name} counts the two abandoned handshakes`, async () => {
    const now = (await agentStats<NetStats>(agent)).inbound.upgradesFailed
    return now.tcp > before.tcp && now.ws > before.ws
  }, 10_000, 50)
}

// ---- the suite ----------------------------------------------------------------

describe('hostile network: malformed frames, silence, endless prefixes, garbage, storms', () => {
  let agents: AgentProcess[] = []
  let target: AgentProcess
  let others: AgentProcess[]
  const sockets: Raw[] = []

  before(async () => {
    agents = await startCluster(3, 'n')
    ;[target, ...others] = agents
    await waitAllSee(agents, agents, 'alive', 20_000)
  })
  after(async () => {
    for (const s of sockets) s.drop()
    await killAll(agents)
  })

  /** The shared assertions after an attack, plus: the listeners still serve and no descriptor is left behind. */
  async function survived (t: TestContext, report: AttackReport, fdsBefore: number): Promise<void> {
    t.diagnostic(describeReport(report))
    assertSurvived(target, report)
    await listenersServe(target)
    // the attack's sockets are all released: none held half-closed or forgotten
    await waitFor(`${target.name} back to its descriptors (${fdsBefore})`, async () => fdCount(target.child.pid!) <= fdsBefore + 8, 10_000, 100)
  }

  const track = (raw: Raw): Raw => { sockets.push(raw); return raw }

  it('malformed WebSocket frames after a valid upgrade close that connection with a protocol error and are counted', async (t) => {
    const port = portOf(target, true)
    const payload = (n: number): Uint8Array => new Uint8Array(n).fill(0x61)
    const kinds: Array<{ name: string, bytes: Buffer, codes: number[] }> = [
      { name: 'unmasked client frame', bytes: frame({ opcode: 0x2, payload: payload(5), mask: false }), codes: [1002] },
      { name: 'RSV1 set without an extension', bytes: frame({ opcode: 0x2, payload: payload(5), rsv: 0b100 }), codes: [1002] },
      { name: 'RSV2 and RSV3 set', bytes: frame({ opcode: 0x2, payload: payload(5), rsv: 0b011 }), codes: [1002] },
      { name: 'continuation with no message started', bytes: frame({ opcode: 0x0, payload: payload(5) }), codes: [1002] },
      { name: 'ping of 200 bytes (control frames carry at most 125)', bytes: frame({ opcode: 0x9, payload: payload(200) }), codes: [1002] },
      { name: 'fragmented ping', bytes: frame({ opcode: 0x9, payload: payload(5), fin: false }), codes: [1002] },
      { name: 'unknown opcode 0x3', bytes: frame({ opcode: 0x3, payload: payload(5) }), codes: [1002] },
      { name: '64-bit length 2^64-1', bytes: frame({ opcode: 0x2, declared: 0xffff_ffff_ffff_ffffn }), codes: [1009] },
      { name: 'close frame with a 1-byte body', bytes: frame({ opcode: 0x8, payload: new Uint8Array([0x03]) }), codes: [1002] },
      { name: 'close frame with reserved code 1005', bytes: frame({ opcode: 0x8, payload: new Uint8Array([0x03, 0xed]) }), codes: [1002] },
      { name: 'close frame whose reason is not UTF-8', bytes: frame({ opcode: 0x8, payload: new Uint8Array([0x03, 0xe8, 0xff, 0xfe, 0xfd]) }), codes: [1007] },
      // the header alone declares it; a first slice of the body follows
      { name: 'binary frame declaring 256 MB', bytes: Buffer.concat([frame({ opcode: 0x2, declared: 256n * 1024n * 1024n }), Buffer.alloc(16 * 1024, 0x61)]), codes: [1009] }
    ]
    const REPEAT = 4
    const attempts = kinds.flatMap(k => Array.from({ length: REPEAT }, () => k))
    const before = (await agentStats<NetStats>(target)).inbound
    const fds = fdCount(target.child.pid!)
    const { result, report } = await underAttack(target, others, async () =>
      await pool(attempts, 12, async (kind) => {
        const raw = track(await upgraded(port))
        raw.socket.write(kind.bytes)
        await endedByAgent(raw, 5000, kind.name)
        return { kind, code: closeCode(raw) }
      }))
    for (const { kind, code } of result) {
      assert.ok(code != null && kind.codes.includes(code), `${kind.name}: closed with ${String(code)}, expected ${kind.codes.join('/')}`)
    }
    const counted = (await agentStats<NetStats>(target)).inbound.webSocket.badFrames - before.webSocket.badFrames
    assert.equal(counted, attempts.length, 'each malformed frame is counted once in webSocket.badFrames')
    // libp2p's upgrade of each of those connections fails when the socket closes, which may come
    // after the client saw the close frame: waiting here keeps the next test's counts its own
    await waitFor('each malformed-frame connection counted as a failed upgrade', async () =>
      (await agentStats<NetStats>(target)).inbound.upgradesFailed.ws - before.upgradesFailed.ws === attempts.length, 10_000, 100)
    await survived(t, report, fds)
  })

  it('silent connections on both ports, a stalled HTTP request and a silent upgraded WebSocket are all closed by the agent', async (t) => {
    const wsPort = portOf(target, true)
    const tcpPort = portOf(target, false)
    const before = (await agentStats<NetStats>(target)).inbound
    const fds = fdCount(target.child.pid!)
    const { result, report } = await underAttack(target, others, async () => {
      const silentWs = await pool(Array.from({ length: 50 }), 25, async () => track(await open(wsPort)))
      const silentTcp = await pool(Array.from({ length: 50 }), 25, async () => track(await open(tcpPort)))
      // a request line and one header, then nothing: the HTTP server alone would wait a minute
      const stalledHttp = track(await open(wsPort))
      stalledHttp.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n')
      const silentUpgraded = track(await upgraded(wsPort))
      const all = [
        ...silentWs.map(r => ({ r, what: 'silent WebSocket-port connection' })),
        ...silentTcp.map(r => ({ r, what: 'silent TCP connection' })),
        { r: stalledHttp, what: 'stalled HTTP request' },
        { r: silentUpgraded, what: 'silent upgraded WebSocket' }
      ]
      return await Promise.all(all.map(async ({ r, what }) => ({ what, ms: await endedByAgent(r, SILENT_CLOSE_MS, what) })))
    }, { settleMs: 1000 })
    t.diagnostic(`last silent connection closed after ${Math.round(Math.max(...result.map(r => r.ms)))} ms`)
    const after = (await agentStats<NetStats>(target)).inbound
    // the 50 silent ones and the stalled request; the upgraded one is closed by libp2p's upgrade timeout
    assert.equal(after.webSocket.idleClosed - before.webSocket.idleClosed, 51, 'each silent pre-upgrade WebSocket-port connection is counted once in inbound.webSocket.idleClosed')
    assert.equal(after.upgradesFailed.tcp - before.upgradesFailed.tcp, 50, 'each silent TCP connection is a failed upgrade')
    assert.equal(after.upgradesFailed.ws - before.upgradesFailed.ws, 1, 'the silent upgraded WebSocket is a failed upgrade')
    await survived(t, report, fds)
  })

  it('a client trickling its HTTP upgrade a byte a second is closed at the upgrade deadline', async (t) => {
    const fds = fdCount(target.child.pid!)
    const request = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    const { result, report } = await underAttack(target, others, async () => {
      const raw = track(await open(portOf(target, true)))
      let at = 0
      // bounded: the request is ~130 bytes, the deadline comes at 10 s
      const timer = setInterval(() => { if (at < request.length && !raw.socket.destroyed) raw.socket.write(request.subarray(at, ++at)) }, 1000)
      try {
        return await endedByAgent(raw, SILENT_CLOSE_MS, 'trickling HTTP upgrade')
      } finally {
        clearInterval(timer)
      }
    }, { settleMs: 1000 })
    t.diagnostic(`closed after ${Math.round(result)} ms`)
    await survived(t, report, fds)
  })

  it('connections beyond the bound in their HTTP phase are refused at once and counted', async (t) => {
    const port = portOf(target, true)
    const fds = fdCount(target.child.pid!)
    const before = (await agentStats<NetStats>(target)).inbound.webSocket.refused
    const { report } = await underAttack(target, others, async () => {
      // 300 silent connections against a bound of 256: the rest are closed at once
      const raws = await pool(Array.from({ length: 300 }), 50, async () => track(await open(port)))
      await waitFor('refusals counted', async () => (await agentStats<NetStats>(target)).inbound.webSocket.refused - before >= 44, 10_000, 100)
      for (const raw of raws) raw.socket.destroy()
    }, { settleMs: 1000 })
    await survived(t, report, fds)
  })

  it('endless length prefixes on TCP and inside WebSocket frames are refused at once and do not hold memory', async (t) => {
    const wsPort = portOf(target, true)
    const tcpPort = portOf(target, false)
    const fds = fdCount(target.child.pid!)
    const { result, report } = await underAttack(target, others, async () => {
      const tcp = await pool(Array.from({ length: 40 }), 40, async () => {
        const raw = track(await open(tcpPort))
        raw.socket.write(ENDLESS_PREFIX, () => {})
        return raw
      })
      const ws = await pool(Array.from({ length: 40 }), 40, async () => {
        const raw = track(await upgraded(wsPort))
        // as libp2p's own frames: binary, masked, well within the message limit
        for (let at = 0; at < ENDLESS_PREFIX.length; at += 16 * 1024) {
          raw.socket.write(frame({ opcode: 0x2, payload: ENDLESS_PREFIX.subarray(at, at + 16 * 1024) }), () => {})
        }
        return raw
      })
      // Refused after the prefix's few allowed bytes, long before the 10 s
      // upgrade timeout that would otherwise end them while the rest is held.
      return await Promise.all([
        ...tcp.map(async r => await endedByAgent(r, 5000, 'TCP connection sending 0xff')),
        ...ws.map(async r => await endedByAgent(r, 5000, 'WebSocket connection sending 0xff'))
      ])
    })
    assert.equal(result.length, 80)
    await survived(t, report, fds)
  })

  it('300 connections of random garbage on both ports are closed; the agent keeps serving', async (t) => {
    const ports = [portOf(target, false), portOf(target, true)]
    const seed = Number(process.env.HOSTILE_SEED ?? (Date.now() & 0xffff))
    const fds = fdCount(target.child.pid!)
    const { report } = await underAttack(target, others, async () => {
      await pool(Array.from({ length: 300 }, (_, i) => i), 60, async (i) => {
        const port = ports[i % 2]
        // enough bytes that any length prefix multistream accepts (<= 1 KiB) is complete: no case waits for more
        const bytes = garbage(seed + i, 1100 + ((seed + i * 7919) % 3000))
        const raw = track(await open(port))
        raw.socket.write(bytes, () => {})
        await endedByAgent(raw, SILENT_CLOSE_MS, `garbage ${i} (HOSTILE_SEED=${seed}, ${bytes.length} bytes to ${i % 2 === 0 ? 'TCP' : 'WebSocket'} port, starts ${bytes.subarray(0, 8).toString('hex')})`)
      })
    })
    await survived(t, report, fds)
  })

  it('a storm of connections opened and dropped at once on both ports leaves the agent serving', async (t) => {
    const ports = [portOf(target, false), portOf(target, true)]
    const fds = fdCount(target.child.pid!)
    const { result, report } = await underAttack(target, others, async () =>
      await pool(Array.from({ length: 1000 }, (_, i) => i), 50, async (i) => {
        const tcp = i % 2 === 0
        try {
          const raw = await open(ports[tcp ? 0 : 1])
          // on each port: a FIN or a reset, each at once or after a first few bytes
          if ((i >> 2) % 2 === 1) raw.socket.write(tcp ? MULTISTREAM : 'GET / HTTP/1.1\r\n')
          if ((i >> 1) % 2 === 0) raw.socket.end()
          else raw.socket.resetAndDestroy()
          return 'opened'
        } catch (err) {
          return (err as NodeJS.ErrnoException).code ?? 'error'
        }
      }))
    const opened = result.filter(r => r === 'opened').length
    assert.ok(opened >= 900, `only ${opened} of 1000 storm connections opened: ${[...new Set(result)].join(', ')}`)
    await survived(t, report, fds)
  })

  it('after every attack the cluster still agrees that all members are alive', async () => {
    await waitAllSee(agents, agents, 'alive', 10_000)
    assert.equal(target.child.exitCode, null)
  })
})
