/**
 * Self-test of the network lab (test/lab/netlab.ts): proves every fault with
 * small probe processes (TCP echo + UDP recorder) running inside the node
 * namespaces. Skips (with a "# SKIP network lab: <reason>" line) when the lab
 * cannot run here (not root, no ip/nft, no netns support).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLab, labAvailable, cleanupStaleLabs, type Lab, type LabNode, type Net } from './netlab.ts'

const PORT = 7000
const NEG_MS = 500 // how long a probe waits before calling a packet lost
const NETLAB_URL = new URL('./netlab.ts', import.meta.url).href

/**
 * Probe process, run inside a node namespace. Listens (TCP echo + UDP recorder)
 * on PROBE_ADDRS:PROBE_PORT and 127.0.0.1, and takes JSON-line commands on stdin.
 */
const PROBE_JS = String.raw`
const net = require('node:net'), dgram = require('node:dgram'), readline = require('node:readline')
const port = Number(process.env.PROBE_PORT)
const addrs = process.env.PROBE_ADDRS.split(',').concat('127.0.0.1')
const udpLog = [], serverEvents = [], conns = new Map()
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
let pending = addrs.length * 2
const ready = () => { if (--pending === 0) out({ ready: true }) }
for (const a of addrs) {
  const srv = net.createServer(s => {
    s.on('data', d => s.write(d))
    s.on('error', e => serverEvents.push('error:' + (e.code || e.message)))
    s.on('close', () => serverEvents.push('close'))
  })
  srv.listen(port, a, ready)
  const u = dgram.createSocket('udp4')
  u.on('message', (m, r) => udpLog.push(m.toString() + '<' + r.address))
  u.bind(port, a, ready)
}
const handlers = {
  connect: ({ host, timeoutMs }) => new Promise(resolve => {
    const s = net.connect({ host, port })
    const t = setTimeout(() => { s.destroy(); resolve({ ok: false, err: 'timeout' }) }, timeoutMs)
    s.on('connect', () => { clearTimeout(t); s.destroy(); resolve({ ok: true }) })
    s.on('error', e => { clearTimeout(t); resolve({ ok: false, err: e.code || e.message }) })
  }),
  udpSend: ({ host, msg }) => new Promise(resolve => {
    const u = dgram.createSocket('udp4')
    u.send(msg, port, host, err => { u.close(); resolve(err ? { ok: false, err: err.code || err.message } : { ok: true }) })
  }),
  udpLog: () => ({ msgs: udpLog }),
  open: ({ conn, host, timeoutMs }) => new Promise(resolve => {
    const c = { received: '', events: [] }
    const s = net.connect({ host, port })
    c.sock = s
    conns.set(conn, c)
    const t = setTimeout(() => resolve({ ok: false, err: 'timeout' }), timeoutMs)
    s.on('connect', () => { clearTimeout(t); resolve({ ok: true }) })
    s.on('data', d => { c.received += d.toString() })
    s.on('error', e => { c.events.push('error:' + (e.code || e.message)); clearTimeout(t); resolve({ ok: false, err: e.code }) })
    s.on('end', () => c.events.push('end'))
    s.on('close', () => c.events.push('close'))
  }),
  write: ({ conn, data }) => { conns.get(conn).sock.write(data); return { ok: true } },
  status: ({ conn }) => ({ received: conns.get(conn).received, events: conns.get(conn).events }),
  serverStatus: () => ({ events: serverEvents })
}
readline.createInterface({ input: process.stdin }).on('line', async line => {
  const cmd = JSON.parse(line)
  try { out({ id: cmd.id, ...(await handlers[cmd.op](cmd)) }) } catch (e) { out({ id: cmd.id, ok: false, err: String(e) }) }
})
`

interface Reply { id?: number, ok?: boolean, err?: string, msgs?: string[], received?: string, events?: string[] }

class Probe {
  readonly node: LabNode
  readonly child: ChildProcess
  private readonly pending = new Map<number, (r: Reply) => void>()
  private nextId = 1
  readonly ready: Promise<void>
  stderr = ''

  constructor (lab: Lab, node: LabNode) {
    this.node = node
    this.child = lab.spawn(node, process.execPath, ['-e', PROBE_JS], {
      env: { ...process.env, PROBE_PORT: String(PORT), PROBE_ADDRS: `${node.addrA},${node.addrB}` }
    })
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString() })
    let markReady: () => void
    this.ready = new Promise(resolve => { markReady = resolve })
    createInterface({ input: this.child.stdout! }).on('line', line => {
      const msg = JSON.parse(line)
      if (msg.ready === true) { markReady(); return }
      this.pending.get(msg.id)?.(msg)
      this.pending.delete(msg.id)
    })
  }

  async call (op: string, args: Record<string, unknown> = {}, timeoutMs = 5000): Promise<Reply> {
    const id = this.nextId++
    const reply = new Promise<Reply>(resolve => this.pending.set(id, resolve))
    this.child.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n')
    const r = await Promise.race([reply, sleep(timeoutMs, null, { ref: false })])
    if (r == null) throw new Error(`probe ${this.node.name}: no reply to ${op} within ${timeoutMs} ms (stderr: ${this.stderr})`)
    return r
  }

  async connect (host: string, timeoutMs = NEG_MS): Promise<Reply> {
    return await this.call('connect', { host, timeoutMs })
  }
}

async function startProbe (lab: Lab, node: LabNode): Promise<Probe> {
  const p = new Probe(lab, node)
  await Promise.race([p.ready, sleep(10_000, undefined, { ref: false }).then(() => { throw new Error(`probe on ${node.name} not ready: ${p.stderr}`) })])
  return p
}

async function waitUntil (what: string, timeoutMs: number, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

async function netnsList (): Promise<string[]> {
  const r = spawn('ip', ['netns', 'list'])
  let out = ''
  r.stdout.on('data', (d: Buffer) => { out += d.toString() })
  await new Promise(resolve => r.on('close', resolve))
  return out.split('\n').map(l => l.trim().split(/\s+/)[0]).filter(Boolean)
}

const avail = await labAvailable()
if (!avail.ok) console.log(`# SKIP network lab: ${avail.reason}`)

describe('network lab', { skip: avail.ok ? false : `network lab: ${avail.reason}`, timeout: 60_000 }, () => {
  let lab: Lab
  let n1: LabNode, n2: LabNode, n3: LabNode
  const probes = new Map<string, Probe>()
  const probe = (node: LabNode): Probe => probes.get(node.name)!

  /**
   * TCP-connects every ordered pair on both networks; returns the set of
   * "src>dst:net" that failed.
   */
  async function unreachable (): Promise<Set<string>> {
    const checks: Array<Promise<string | null>> = []
    for (const src of lab.nodes) {
      for (const dst of lab.nodes) {
        if (src === dst) continue
        for (const net of ['A', 'B'] as Net[]) {
          checks.push(probe(src).connect(lab.addr(dst, net)).then(r => r.ok === true ? null : `${src.name}>${dst.name}:${net}`))
        }
      }
    }
    return new Set((await Promise.all(checks)).filter((x): x is string => x != null))
  }

  const expectBlocked = (failed: Set<string>, blocked: string[]): void => {
    assert.deepEqual([...failed].sort(), [...blocked].sort())
  }

  /** All ordered pairs between the two sides, on the given networks. */
  const across = (xs: LabNode[], ys: LabNode[], nets: Net[]): string[] =>
    xs.flatMap(x => ys.flatMap(y => nets.flatMap(net => [`${x.name}>${y.name}:${net}`, `${y.name}>${x.name}:${net}`])))

  before(async () => {
    const t0 = Date.now()
    lab = await createLab(3)
    ;[n1, n2, n3] = lab.nodes
    for (const p of await Promise.all(lab.nodes.map(async node => await startProbe(lab, node)))) probes.set(p.node.name, p)
    console.log(`# lab ${lab.id}: created + probes started in ${Date.now() - t0} ms`)
  })

  after(async () => { await lab?.destroy() })

  it('has the documented addresses and loopback up', async () => {
    assert.deepEqual(lab.nodes.map(n => [n.addrA, n.addrB]), [['10.77.1.11', '10.77.2.11'], ['10.77.1.12', '10.77.2.12'], ['10.77.1.13', '10.77.2.13']])
    for (const node of lab.nodes) {
      assert.equal((await probe(node).connect('127.0.0.1', 2000)).ok, true, `loopback in ${node.name}`)
      const routes = await lab.exec(node, 'ip', ['-4', 'route'])
      assert.equal(routes.code, 0)
      assert.doesNotMatch(routes.stdout, /default/, 'no default route in a node')
    }
  })

  it('both networks reach between all nodes', async () => {
    expectBlocked(await unreachable(), [])
  })

  it('cutNetwork(n1, A) blocks only network A of n1; restoreNetwork undoes it', async () => {
    await lab.cutNetwork(n1, 'A')
    expectBlocked(await unreachable(), across([n1], [n2, n3], ['A']))
    await lab.restoreNetwork(n1, 'A')
    expectBlocked(await unreachable(), [])
  })

  it('partition blocks across groups on both networks, not within; established TCP stalls; heal restores', async () => {
    const p2 = probe(n2)
    assert.equal((await p2.call('open', { conn: 'c', host: n1.addrA, timeoutMs: 2000 })).ok, true)
    await p2.call('write', { conn: 'c', data: 'before;' })
    await waitUntil('echo before partition', 2000, async () => (await p2.call('status', { conn: 'c' })).received === 'before;')

    await lab.partition([[n1], [n2, n3]])
    expectBlocked(await unreachable(), across([n1], [n2, n3], ['A', 'B']))
    // The established connection is cut too (no conntrack "established" bypass) ...
    await p2.call('write', { conn: 'c', data: 'during;' })
    await sleep(800)
    const during = await p2.call('status', { conn: 'c' })
    assert.equal(during.received, 'before;', 'no echo across the partition')
    assert.deepEqual(during.events, [], 'no error/close on the established connection')

    await lab.heal()
    // ... and survives: TCP retransmits once healed.
    await waitUntil('echo after heal', 8000, async () => (await p2.call('status', { conn: 'c' })).received === 'before;during;')
    expectBlocked(await unreachable(), [])
  })

  it('partition with a group subset leaves unlisted nodes connected; partition([]) clears', async () => {
    await lab.partition([[n1], [n2]], ['B'])
    expectBlocked(await unreachable(), across([n1], [n2], ['B']))
    await lab.partition([])
    expectBlocked(await unreachable(), [])
  })

  it('cutOneWay(from=n1, to=n2): n1 -> n2 arrives, n2 -> n1 is lost (both networks)', async () => {
    await lab.cutOneWay(n1, n2)
    const tag = `ow${Date.now()}`
    for (const net of ['A', 'B'] as Net[]) {
      for (const [src, dst] of [[n1, n2], [n2, n1], [n1, n3], [n3, n1]]) {
        const r = await probe(src).call('udpSend', { host: lab.addr(dst, net), msg: `${tag}:${src.name}>${dst.name}:${net}` })
        assert.equal(r.ok, true, `udp send ${src.name}>${dst.name}:${net} gives no local error`)
      }
    }
    await sleep(NEG_MS)
    const got = async (node: LabNode): Promise<string[]> =>
      ((await probe(node).call('udpLog')).msgs ?? []).filter(m => m.startsWith(tag)).map(m => m.slice(tag.length + 1).split('<')[0])
    assert.deepEqual((await got(n2)).sort(), ['n1>n2:A', 'n1>n2:B'])
    assert.deepEqual((await got(n1)).sort(), ['n3>n1:A', 'n3>n1:B'], 'nothing from n2 reaches n1')
    assert.deepEqual((await got(n3)).sort(), ['n1>n3:A', 'n1>n3:B'])
    // TCP needs both directions: connects between n1 and n2 fail either way.
    expectBlocked(await unreachable(), across([n1], [n2], ['A', 'B']))

    await lab.heal()
    await probe(n2).call('udpSend', { host: n1.addrA, msg: `${tag}:healed` })
    await waitUntil('n2 -> n1 datagram after heal', 2000, async () => (await got(n1)).includes('healed'))
    expectBlocked(await unreachable(), [])
  })

  it('pullPlug: node unreachable, established TCP gets no RST/FIN; plugIn: connection resumes', async () => {
    const p2 = probe(n2)
    const p3 = probe(n3)
    assert.equal((await p2.call('open', { conn: 'pA', host: n1.addrA, timeoutMs: 2000 })).ok, true)
    assert.equal((await p3.call('open', { conn: 'pB', host: n1.addrB, timeoutMs: 2000 })).ok, true)
    const serverBefore = (await probe(n1).call('serverStatus')).events ?? []

    await lab.pullPlug(n1)
    const link = await lab.exec(n1, 'ip', ['-br', 'link', 'show', 'ethA'])
    assert.match(link.stdout, /NO-CARRIER|LOWERLAYERDOWN|DOWN/, `n1's ethA lost carrier: ${link.stdout}`)
    await p2.call('write', { conn: 'pA', data: 'x;' })
    await p3.call('write', { conn: 'pB', data: 'y;' })
    expectBlocked(await unreachable(), across([n1], [n2, n3], ['A', 'B']))
    await sleep(1000 - NEG_MS)
    for (const [p, conn] of [[p2, 'pA'], [p3, 'pB']] as const) {
      const s = await p.call('status', { conn })
      assert.equal(s.received, '', `${conn}: nothing echoed while unplugged`)
      assert.deepEqual(s.events, [], `${conn}: no error/end/close on the peer's socket while unplugged`)
    }
    assert.deepEqual((await probe(n1).call('serverStatus')).events, serverBefore, 'no error on the unplugged side either')

    await lab.plugIn(n1)
    await waitUntil('echo after plugIn', 8000, async () =>
      (await p2.call('status', { conn: 'pA' })).received === 'x;' && (await p3.call('status', { conn: 'pB' })).received === 'y;')
    expectBlocked(await unreachable(), [])
  })

  it('heal also plugs pulled cables back in and clears cuts', async () => {
    await lab.pullPlug(n3, ['B'])
    await lab.cutNetwork(n2, 'A')
    await lab.cutOneWay(n3, n1, ['A'])
    await lab.heal()
    expectBlocked(await unreachable(), [])
  })

  it('freeze/thaw/crash', async () => {
    const p2 = probe(n2)
    const p3 = probe(n3)
    assert.equal((await p2.call('open', { conn: 'f', host: n3.addrA, timeoutMs: 2000 })).ok, true)
    await lab.freeze(p3.child)
    await p2.call('write', { conn: 'f', data: 'z;' })
    await sleep(300)
    assert.equal((await p2.call('status', { conn: 'f' })).received, '', 'a frozen process does not answer')
    await lab.thaw(p3.child)
    await waitUntil('echo after thaw', 3000, async () => (await p2.call('status', { conn: 'f' })).received === 'z;')

    await lab.crash(p3.child)
    assert.notEqual(p3.child.signalCode ?? p3.child.exitCode, null)
    const r = await p2.connect(n3.addrA, 2000)
    assert.deepEqual(r, { id: r.id, ok: false, err: 'ECONNREFUSED' }, 'crashed server: kernel refuses')
  })

  it('destroy removes every namespace and process of the lab', async () => {
    const mine = (await netnsList()).filter(ns => ns.startsWith(lab.id + '-'))
    assert.deepEqual(mine.sort(), [`${lab.id}-n1`, `${lab.id}-n2`, `${lab.id}-n3`, `${lab.id}-sw`])
    await lab.destroy()
    assert.deepEqual((await netnsList()).filter(ns => ns.startsWith(lab.id)), [])
    for (const p of probes.values()) {
      await waitUntil(`probe ${p.node.name} to exit`, 3000, async () => p.child.exitCode != null || p.child.signalCode != null)
    }
    await lab.destroy() // idempotent
    await assert.rejects(lab.cutNetwork(n1, 'A'), /destroyed/)
  })

  /** Per-run prefix, so parallel runs of this file do not clean up each other's test leftovers. */
  const childPrefix = `t${Math.floor(Math.random() * 0xfffff).toString(16).padStart(5, '0')}`

  /** Runs a separate process that creates a 1-node lab with prefix `childPrefix` and prints its id. */
  async function labInChild (then: string): Promise<{ child: ChildProcess, id: string, exited: Promise<void> }> {
    const script = `import { createLab } from ${JSON.stringify(NETLAB_URL)}
const lab = await createLab(1, { prefix: '${childPrefix}', cleanupStale: false })
lab.spawn(lab.nodes[0], 'sleep', ['60'])
console.log('ID ' + lab.id)
${then}`
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<void>(resolve => child.on('exit', () => resolve()))
    let out = ''
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const id = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child lab not created: ${err}`)) }, 10_000)
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        const m = /ID (\S+)/.exec(out)
        if (m != null) { clearTimeout(t); resolve(m[1]) }
      })
    })
    return { child, id, exited }
  }

  const namespacesOf = async (id: string): Promise<string[]> => (await netnsList()).filter(ns => ns.startsWith(id + '-'))

  it('a lab is cleaned up when its process exits without destroy(), or on SIGINT', async () => {
    const normal = await labInChild('setTimeout(() => process.exit(0), 100)')
    await Promise.race([normal.exited, sleep(5000, undefined, { ref: false })])
    assert.deepEqual(await namespacesOf(normal.id), [], 'namespaces removed at exit')

    const interrupted = await labInChild('setInterval(() => {}, 1000)')
    assert.equal((await namespacesOf(interrupted.id)).length, 2)
    interrupted.child.kill('SIGINT')
    await Promise.race([interrupted.exited, sleep(5000, undefined, { ref: false })])
    assert.equal(interrupted.child.signalCode, 'SIGINT', 'process still dies of SIGINT')
    assert.deepEqual(await namespacesOf(interrupted.id), [], 'namespaces removed on SIGINT')
  })

  it('cleanupStaleLabs removes the leftovers of a SIGKILLed lab owner', async () => {
    const killed = await labInChild('setInterval(() => {}, 1000)')
    killed.child.kill('SIGKILL')
    await Promise.race([killed.exited, sleep(5000, undefined, { ref: false })])
    assert.equal((await namespacesOf(killed.id)).length, 2, 'SIGKILL leaves the namespaces behind')
    const removed = await cleanupStaleLabs(childPrefix)
    assert.ok(removed.includes(killed.id), `removed ${removed.join(',')}`)
    assert.deepEqual(await namespacesOf(killed.id), [])
  })
})
