/**
 * gossip/swim-transport over real libp2p nodes in this process, on 127.0.0.1
 * with OS-chosen ports: delivery both ways over TCP and WebSockets, learning a
 * peer id from an address-only destination, classified dial failures, the
 * per-peer queue bound, inbound garbage, disconnect events and stop().
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { setImmediate } from 'node:timers/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import { createNode, createSwimTransport, SWIM_PROTOCOL } from '../../gossip/index.ts'
import { encodeSyncPart } from '../../gossip/codec.ts'
import type { NodeOptions, SwimTransport, TransportConfig } from '../../gossip/index.ts'
import type { DeliveryFailure, Destination, Message } from '../../membership/types.ts'
import type { Libp2p } from '@libp2p/interface'
import { freePort, waitFor } from './harness.ts'

const TEST_TIMEOUT_MS = 20_000
/** Bound on a wait for something that happens at once on loopback (a delivery, a refusal). */
const WAIT_MS = 5000
const POLL_MS = 10

interface Peer {
  node: Libp2p
  transport: SwimTransport
  id: string
  /** Listen addresses without /p2p/. */
  addrs: string[]
  received: Array<{ from: string, msg: Message }>
  failures: Array<{ to: Destination, msg: Message, reason: DeliveryFailure }>
  disconnected: string[]
}

const peers: Peer[] = []
const servers: Server[] = []

async function startPeer (listen: string[], config: Partial<TransportConfig> = {}, nodeOptions: Partial<NodeOptions> = {}, neighbours?: () => string[]): Promise<Peer> {
  const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen, ...nodeOptions })
  const peer: Peer = {
    node,
    transport: undefined as unknown as SwimTransport,
    id: node.peerId.toString(),
    addrs: node.getMultiaddrs().map(a => a.toString().replace(/\/p2p\/[^/]+$/, '')),
    received: [],
    failures: [],
    disconnected: []
  }
  peer.transport = createSwimTransport(node, {
    onMessage: (from, msg) => { peer.received.push({ from, msg }) },
    onDeliveryFailed: (to, msg, reason) => { peer.failures.push({ to, msg, reason }) },
    onPeerDisconnected: id => { peer.disconnected.push(id) },
    neighbours
  }, { dialTimeoutMs: 1000, ...config })
  await peer.transport.start()
  peers.push(peer)
  return peer
}

/** Two peers started alike, the one with the smaller id first (dial-yield.ts decides by id). */
async function startPairById (config: Partial<TransportConfig>, neighbours?: () => string[]): Promise<[Peer, Peer]> {
  const pair = await Promise.all([0, 1].map(async () => await startPeer(['/ip4/127.0.0.1/tcp/0'], config, {}, neighbours)))
  return pair.sort((x, y) => x.id < y.id ? -1 : 1) as [Peer, Peer]
}

async function stopPeer (peer: Peer): Promise<void> {
  await peer.transport.stop()
  await peer.node.stop()
}

after(async () => {
  await Promise.allSettled(peers.map(stopPeer))
  for (const s of servers) s.close()
})

/** A TCP server that accepts connections and never says a word: dials to it time out. `accepted()`: connections it took. */
async function silentServer (): Promise<{ port: number, accepted: () => number }> {
  const sockets: Socket[] = []
  const server = createServer(socket => { sockets.push(socket) })
  server.on('close', () => { for (const s of sockets) s.destroy() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return { port: (server.address() as { port: number }).port, accepted: () => sockets.length }
}

/** A TCP proxy on 127.0.0.1 to `target` that holds each connection's bytes for `delayMs` before it starts forwarding. */
async function delayingProxy (target: number, delayMs: number): Promise<{ port: number, accepted: () => number }> {
  let accepted = 0
  const server = createServer(client => {
    accepted++
    client.pause()
    const timer = setTimeout(() => {
      const upstream = connect(target, '127.0.0.1', () => { client.pipe(upstream); upstream.pipe(client); client.resume() })
      upstream.on('error', () => { client.destroy() })
      client.on('error', () => { upstream.destroy() })
      server.on('close', () => { upstream.destroy() })
    }, delayMs)
    server.on('close', () => { clearTimeout(timer); client.destroy() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return { port: (server.address() as { port: number }).port, accepted: () => accepted }
}

const ping = (seq: number, target: string): Message => ({ type: 'ping', seq, target, updates: [] })

describe('gossip swim transport', { timeout: 120_000 }, () => {
  for (const [transport, listen] of [['TCP', '/ip4/127.0.0.1/tcp/0'], ['WebSockets', '/ip4/127.0.0.1/tcp/0/ws']] as const) {
    it(`delivers messages both ways over ${transport}, in order, with the authenticated sender id`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const a = await startPeer([listen])
      const b = await startPeer([listen])
      for (let seq = 0; seq < 100; seq++) a.transport.send({ id: b.id, addrs: b.addrs }, ping(seq, b.id))
      await waitFor('100 pings at b', () => b.received.length === 100, WAIT_MS, POLL_MS)
      assert.deepEqual(b.received.map(r => r.from), Array(100).fill(a.id))
      assert.deepEqual(b.received.map(r => (r.msg as { seq: number }).seq), [...Array(100).keys()])
      assert.deepStrictEqual(b.received[7].msg, ping(7, b.id))

      b.transport.send({ id: a.id, addrs: a.addrs }, { type: 'ack', seq: 7, updates: [] })
      await waitFor('ack at a', () => a.received.length === 1, WAIT_MS, POLL_MS)
      assert.deepStrictEqual(a.received[0], { from: b.id, msg: { type: 'ack', seq: 7, updates: [] } })
      assert.deepEqual(a.failures, [])
      assert.deepEqual(b.failures, [])
      assert.equal(a.transport.stats().messagesOut, 100)
      assert.equal(b.transport.stats().messagesIn, 100)
      assert.ok(a.transport.stats().bytesOut > 0 && b.transport.stats().bytesIn > 0)
      // the connection really is over the transport under test
      const remote = a.node.getConnections(b.node.peerId)[0].remoteAddr.toString()
      assert.equal(remote.includes('/ws'), transport === 'WebSockets', remote)
    })
  }

  it('learns the peer id from an address-only destination and reuses the connection', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const join: Message = { type: 'sync', reply: true, join: true, members: [] }
    a.transport.send({ addrs: b.addrs }, join)
    await waitFor('sync at b', () => b.received.length === 1, WAIT_MS, POLL_MS)
    assert.deepStrictEqual(b.received[0], { from: a.id, msg: join })
    // b answers the id it learned; a sends to the address again, then to the id
    b.transport.send({ id: a.id, addrs: a.addrs }, { type: 'sync', reply: false, join: false, members: [] })
    a.transport.send({ addrs: b.addrs }, ping(1, b.id))
    a.transport.send({ id: b.id, addrs: b.addrs }, ping(2, b.id))
    await waitFor('both pings at b', () => b.received.length === 3, WAIT_MS, POLL_MS)
    await waitFor('sync reply at a', () => a.received.length === 1, WAIT_MS, POLL_MS)
    assert.deepEqual(b.received.map(r => r.msg.type), ['sync', 'ping', 'ping'])
    const connections = a.node.getConnections(b.node.peerId)
    assert.equal(connections.length, 1)
    assert.equal(connections[0].streams.filter(s => s.protocol === SWIM_PROTOCOL && s.direction === 'outbound').length, 1)
    assert.deepEqual(a.failures, [])
  })

  it('two peers gossiping to each other at once share one connection: the larger id waits for the smaller one\'s dial', { timeout: TEST_TIMEOUT_MS }, async () => {
    let ring: string[] = []
    const [small, large] = await startPairById({ gossipDialSettleMs: 300 }, () => ring)
    ring = [small.id, large.id] // a ring on which each is the other's neighbour
    const gossip: Message = { type: 'gossip', updates: [] }
    large.transport.send({ id: small.id, addrs: small.addrs }, gossip)
    small.transport.send({ id: large.id, addrs: large.addrs }, gossip)
    await waitFor('gossip at both', () => small.received.length === 1 && large.received.length === 1, WAIT_MS, POLL_MS)
    assert.equal(small.node.getConnections(large.node.peerId).length, 1)
    assert.equal(large.node.getConnections(small.node.peerId)[0].direction, 'inbound')
    assert.deepEqual(large.transport.stats().gossipDialWaits, { yielded: 1, settled: 0, connected: 1, noLongerNeighbour: 0 })
    assert.deepEqual(small.transport.stats().gossipDialWaits, { yielded: 0, settled: 1, connected: 0, noLongerNeighbour: 0 })
  })

  it('the smaller id\'s gossip waits gossipDialSettleMs before it dials: a probe\'s connection meanwhile carries it, and a member no longer a neighbour is not dialled', { timeout: TEST_TIMEOUT_MS }, async () => {
    // a wait longer than the test: only the peer's probe can end it
    let ring: string[] = []
    const [small, large] = await startPairById({ gossipDialSettleMs: 60_000 }, () => ring)
    ring = [small.id, large.id]
    small.transport.send({ id: large.id, addrs: large.addrs }, { type: 'gossip', updates: [] })
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(large.received.length, 0, 'gossip alone waits')
    large.transport.send({ id: small.id, addrs: small.addrs }, ping(1, small.id))
    await waitFor('the probe, then the gossip on its connection', () => small.received.length === 1 && large.received.length === 1, WAIT_MS, POLL_MS)
    assert.equal(small.node.getConnections(large.node.peerId).length, 1)
    assert.equal(small.node.getConnections(large.node.peerId)[0].direction, 'inbound', 'the smaller id never dialled')
    assert.deepEqual(small.transport.stats().gossipDialWaits, { yielded: 0, settled: 1, connected: 1, noLongerNeighbour: 0 })

    let neighbours: string[] = []
    const [small2, large2] = await startPairById({ gossipDialSettleMs: 300 }, () => neighbours)
    neighbours = [large2.id]
    small2.transport.send({ id: large2.id, addrs: large2.addrs }, { type: 'gossip', updates: [] })
    neighbours = ['someone-else'] // the ring moved on while the gossip waited
    await waitFor('the wait over', () => small2.transport.stats().gossipDialWaits.noLongerNeighbour === 1, WAIT_MS, POLL_MS)
    assert.equal(small2.node.getConnections(large2.node.peerId).length, 0, 'never dialled')
    assert.deepEqual(small2.failures, [], 'not a delivery failure')

    // no ring (a cluster too small for one: every member a neighbour for good): the wait as well
    const [small3, large3] = await startPairById({ gossipDialSettleMs: 60_000 })
    small3.transport.send({ id: large3.id, addrs: large3.addrs }, { type: 'gossip', updates: [] })
    await waitFor('the wait begun', () => small3.transport.stats().gossipDialWaits.settled === 1, WAIT_MS, POLL_MS)
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(large3.received.length, 0, 'gossip alone waits without a ring too')
  })

  it('gossip that waits for the peer\'s dial goes out on its own after gossipDialYieldMs, and a probe queued behind it ends the wait', { timeout: TEST_TIMEOUT_MS }, async () => {
    const yieldMs = 60_000 // longer than the test: only the probe can end the wait
    const [small, large] = await startPairById({ gossipDialYieldMs: yieldMs })
    large.transport.send({ id: small.id, addrs: small.addrs }, { type: 'gossip', updates: [] })
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(small.received.length, 0, 'gossip alone waits')
    large.transport.send({ id: small.id, addrs: small.addrs }, ping(1, small.id))
    await waitFor('gossip and ping at the smaller id', () => small.received.length === 2, WAIT_MS, POLL_MS)
    assert.deepEqual(small.received.map(r => r.msg.type), ['gossip', 'ping'])

    const [small2, large2] = await startPairById({ gossipDialYieldMs: 300 })
    large2.transport.send({ id: small2.id, addrs: small2.addrs }, { type: 'gossip', updates: [] })
    await waitFor('gossip at the smaller id after the wait', () => small2.received.length === 1, WAIT_MS, POLL_MS)
    assert.deepEqual(large2.failures, [])
  })

  it('gossip whose wait for the peer\'s dial ran out is dropped undialled once the peer is no longer a gossip neighbour', { timeout: TEST_TIMEOUT_MS }, async () => {
    let neighbours: string[] = []
    const [small, large] = await startPairById({ gossipDialYieldMs: 300 }, () => neighbours)
    neighbours = [small.id]
    large.transport.send({ id: small.id, addrs: small.addrs }, { type: 'gossip', updates: [] })
    neighbours = ['someone-else'] // the ring moved on while the gossip waited
    await waitFor('the wait over', () => large.transport.stats().gossipDialWaits.noLongerNeighbour === 1, WAIT_MS, POLL_MS)
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(small.received.length, 0)
    assert.equal(large.node.getConnections(small.node.peerId).length, 0, 'never dialled')
    assert.deepEqual(large.failures, [], 'not a delivery failure')
    // a neighbour again: the next gossip goes out after its wait
    neighbours = [small.id]
    large.transport.send({ id: small.id, addrs: small.addrs }, { type: 'gossip', updates: [] })
    await waitFor('gossip at the smaller id', () => small.received.length === 1, WAIT_MS, POLL_MS)
  })

  it('reports refused for a closed TCP port, with and without a peer id', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const port = await freePort()
    const addr = `/ip4/127.0.0.1/tcp/${port}`
    a.transport.send({ addrs: [addr] }, ping(1, b.id))
    a.transport.send({ id: b.id, addrs: [addr] }, ping(2, b.id))
    await waitFor('two failures', () => a.failures.length === 2, WAIT_MS, POLL_MS)
    assert.deepEqual(a.failures.map(f => f.reason), ['refused', 'refused'])
    assert.deepEqual(a.failures.map(f => (f.msg as { seq: number }).seq).sort(), [1, 2])
    assert.equal(a.transport.stats().dropped.sendFailed, 2)
  })

  it('reports refused for a closed WebSocket port, and for several refused addresses', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const [p1, p2] = [await freePort(), await freePort()]
    a.transport.send({ addrs: [`/ip4/127.0.0.1/tcp/${p1}/ws`] }, ping(1, a.id.replace(/.$/, 'x')))
    a.transport.send({ addrs: [`/ip4/127.0.0.1/tcp/${p1}`, `/ip4/127.0.0.1/tcp/${p2}/ws`] }, ping(2, a.id.replace(/.$/, 'x')))
    await waitFor('two failures', () => a.failures.length === 2, WAIT_MS, POLL_MS)
    assert.deepEqual(a.failures.map(f => f.reason), ['refused', 'refused'])
  })

  it('reports timeout when the remote accepts but never completes the handshake', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'], { dialTimeoutMs: 300 })
    const { port } = await silentServer()
    a.transport.send({ addrs: [`/ip4/127.0.0.1/tcp/${port}`] }, ping(1, a.id.replace(/.$/, 'x')))
    await waitFor('a failure', () => a.failures.length === 1, WAIT_MS, POLL_MS)
    assert.equal(a.failures[0].reason, 'timeout')
  })

  // A silent server accepts the TCP connect and never answers the handshake
  // (as a frozen process's kernel does): the address's budget covers the
  // handshake, set to 1.5 s here to keep the test short. Had it taken the
  // send's whole budget (4 s), the send would be reported failed (timeout)
  // instead of the ping reaching b.
  it('a silent address uses only its own share of the dial budget: the next address is reached', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'], { dialTimeoutMs: 4000 }, { addressDialTimeoutMs: 1500 })
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const { port } = await silentServer()
    a.transport.send({ id: b.id, addrs: [`/ip4/127.0.0.1/tcp/${port}`, ...b.addrs] }, ping(1, b.id))
    await waitFor('the ping at b or the send reported failed', () => b.received.length === 1 || a.failures.length > 0, 10_000, POLL_MS)
    assert.deepEqual(a.failures, [], 'the send was not reported failed')
    assert.equal(b.received.length, 1, 'the ping reached b through its own address')
  })

  // A handshake slower than the send's deadline (a peer on a starved CPU):
  // the send is reported, but the dial goes on and serves the next send,
  // instead of being thrown away and made again.
  it('a dial that outlasts its send is kept: the next send uses its connection, no second handshake', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'], { dialTimeoutMs: 1000 })
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const { port, accepted } = await delayingProxy(Number(b.addrs[0].split('/')[4]), 2500)
    const to = { id: b.id, addrs: [`/ip4/127.0.0.1/tcp/${port}`] }
    a.transport.send(to, ping(1, b.id))
    await waitFor('the first send reported', () => a.failures.length === 1, WAIT_MS, POLL_MS)
    assert.equal(a.failures[0].reason, 'timeout')
    await waitFor('the dial completed', () => a.node.getConnections().length === 1, 6000, POLL_MS)
    a.transport.send(to, ping(2, b.id))
    await waitFor('ping 2 at b', () => b.received.length === 1, WAIT_MS, POLL_MS)
    assert.equal((b.received[0].msg as { seq: number }).seq, 2)
    assert.equal(accepted(), 1, 'one TCP connection, one handshake')
  })

  // The same slow handshake, seen by a membership core that listens for
  // onConnecting: the ping waits for the dial's own bound (connectTimeoutMs)
  // instead of failing at the send's deadline, and its going out is reported,
  // so the probe's clock starts then; gossip queued beside it fails as before.
  it('a ping waiting for a slow dial is reported connecting, then sent, and is not failed at the send\'s deadline', { timeout: TEST_TIMEOUT_MS }, async () => {
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const { port } = await delayingProxy(Number(b.addrs[0].split('/')[4]), 2500)
    const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    const reports: string[] = []
    const transport = createSwimTransport(node, {
      onMessage: () => {},
      onDeliveryFailed: (_, msg, reason) => { reports.push(`${msg.type} failed ${reason}`) },
      onPeerDisconnected: () => {},
      onConnecting: (_, msg) => { reports.push(`${msg.type} ${(msg as { seq: number }).seq} connecting`) },
      onSentAfterConnecting: (_, msg) => { reports.push(`${msg.type} ${(msg as { seq: number }).seq} sent`) }
    }, { dialTimeoutMs: 1000, connectTimeoutMs: 10_000 })
    await transport.start()
    peers.push({ node, transport, id: node.peerId.toString(), addrs: [], received: [], failures: [], disconnected: [] })
    const to = { id: b.id, addrs: [`/ip4/127.0.0.1/tcp/${port}`] }
    transport.send(to, ping(1, b.id))
    transport.send(to, { type: 'ping-req', seq: 2, target: 'someone', targetAddrs: [], nack: true, updates: [] })
    await setImmediate()
    transport.send(to, ping(3, b.id))
    await waitFor('ping 1 and 3 at b', () => b.received.length === 2, 6000, POLL_MS)
    assert.deepEqual(b.received.map(r => (r.msg as { seq: number }).seq), [1, 3])
    assert.deepEqual(reports, ['ping 1 connecting', 'ping 3 connecting', 'ping-req failed timeout', 'ping 1 sent', 'ping 3 sent'])
    transport.send(to, ping(4, b.id))
    await waitFor('ping 4 at b', () => b.received.length === 3, WAIT_MS, POLL_MS)
    assert.equal(reports.length, 5, 'a ping on an open connection is not reported')
    assert.equal(transport.stats().pingsWaitedForConnection, 2)
  })

  it('reports timeout when every address times out on its own per-address budget', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'], { dialTimeoutMs: 6000 }, { addressDialTimeoutMs: 1500 })
    const { port } = await silentServer()
    a.transport.send({ addrs: [`/ip4/127.0.0.1/tcp/${port}`] }, ping(1, a.id.replace(/.$/, 'x')))
    await waitFor('a failure', () => a.failures.length === 1, WAIT_MS, POLL_MS)
    assert.equal(a.failures[0].reason, 'timeout')
  })

  it('bounds the queue of a peer that does not take messages: drops are counted and reported', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'], { dialTimeoutMs: 500, maxQueuedMessagesPerPeer: 4 })
    const { port } = await silentServer()
    const to = { addrs: [`/ip4/127.0.0.1/tcp/${port}`] }
    for (let seq = 0; seq < 10; seq++) a.transport.send(to, ping(seq, a.id.replace(/.$/, 'x')))
    assert.equal(a.transport.stats().dropped.backpressure, 6)
    await waitFor('all ten reported', () => a.failures.length === 10, WAIT_MS, POLL_MS)
    const bySeq = new Map(a.failures.map(f => [(f.msg as { seq: number }).seq, f.reason]))
    assert.deepEqual([...Array(10).keys()].map(seq => bySeq.get(seq)), Array(10).fill('timeout'))
    assert.equal(a.transport.stats().dropped.sendFailed, 4)
  })

  it('reports error without sending for oversized messages and for this node itself', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'], { maxMessageBytes: 1024 })
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    // gossip is not split (a sync is: below)
    const big: Message = {
      type: 'gossip',
      updates: Array.from({ length: 20 }, () => ({ type: 'alive' as const, id: b.id, name: 'n'.repeat(100), addrs: [], tags: {}, incarnation: 0, bootId: '' }))
    }
    a.transport.send({ id: b.id, addrs: b.addrs }, big)
    a.transport.send({ id: a.id, addrs: a.addrs }, ping(1, a.id))
    a.transport.send({ addrs: a.addrs }, ping(2, a.id))
    a.transport.send({ id: b.id, addrs: b.addrs }, { type: 'ping', seq: -1, target: b.id, updates: [] })
    assert.equal(a.failures.length, 0, 'failures are reported asynchronously, never from inside send()')
    await waitFor('four failures', () => a.failures.length === 4, WAIT_MS, POLL_MS)
    assert.deepEqual(a.failures.map(f => f.reason), ['error', 'error', 'error', 'error'])
    assert.equal(a.transport.stats().dropped.oversized, 1)
    assert.equal(a.transport.stats().messagesOut, 0)
    assert.equal(b.received.length, 0)
  })

  it('a sync larger than a frame goes in parts and arrives as one sync, after what was sent before it and before what was sent after', { timeout: TEST_TIMEOUT_MS }, async () => {
    const maxMessageBytes = 16 * 1024
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'], { maxMessageBytes })
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'], { maxMessageBytes })
    const members = Array.from({ length: 600 }, (_, i) => ({ id: b.id, name: `member-${i}`, addrs: [`/ip4/10.0.${i >> 8}.${i & 255}/tcp/7946`], tags: { zone: 'eu-1' }, incarnation: i, bootId: 'boot', status: 'alive' as const }))
    const sync: Message = { type: 'sync', reply: true, join: true, members }
    const to = { id: b.id, addrs: b.addrs }
    a.transport.send(to, ping(1, b.id))
    a.transport.send(to, sync)
    a.transport.send(to, ping(2, b.id))
    await waitFor('three messages', () => b.received.length === 3, WAIT_MS, POLL_MS)
    assert.deepEqual(b.received.map(r => r.msg.type), ['ping', 'sync', 'ping'])
    assert.deepEqual(b.received[1].msg, sync, 'every member, in order, and the whole sync\'s flags')
    const { messagesByType, bytesOut } = a.transport.stats()
    assert.ok((messagesByType.out.sync ?? 0) > 1 && bytesOut > maxMessageBytes, `sent in ${String(messagesByType.out.sync)} parts`)
    assert.equal(a.failures.length, 0)
  })

  it('parts of a sync that never end are refused past maxSyncBytes, and all streams\' parts past maxHeldSyncBytes; a sync within the bounds still arrives', { timeout: TEST_TIMEOUT_MS }, async () => {
    const maxMessageBytes = 16 * 1024
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'], { maxMessageBytes })
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'], { maxMessageBytes, maxSyncBytes: 64 * 1024, maxHeldSyncBytes: 96 * 1024 })
    const entry = (i: number): Extract<Message, { type: 'sync' }>['members'][number] => ({ id: a.id, name: `m${i}`, addrs: [`/ip4/10.0.0.${i & 255}/tcp/7946`], tags: {}, incarnation: i, bootId: 'boot', status: 'alive' })
    // One part of about 15 KiB, flagged `more`: the sync it belongs to never ends.
    const part = lp.encode.single(encodeSyncPart({ type: 'sync', reply: false, join: false, members: Array.from({ length: 160 }, (_, i) => entry(i)) }, true)).subarray()
    assert.ok(part.byteLength > 14 * 1024 && part.byteLength < maxMessageBytes, `${part.byteLength} bytes`)
    const oversized = (): number => b.transport.stats().dropped.oversized
    const conn = await a.node.dial(multiaddr(b.addrs[0]))
    const endless = await conn.newStream(SWIM_PROTOCOL)
    for (let i = 0; i < 5; i++) endless.send(part)
    await waitFor('one sync past maxSyncBytes counted oversized', () => oversized() === 1, WAIT_MS, POLL_MS)
    await waitFor('its stream reset by b', () => endless.status !== 'open', WAIT_MS, POLL_MS)
    // Two streams whose parts are each within maxSyncBytes but together past maxHeldSyncBytes.
    const first = await conn.newStream(SWIM_PROTOCOL)
    for (let i = 0; i < 4; i++) first.send(part)
    const second = await conn.newStream(SWIM_PROTOCOL)
    for (let i = 0; i < 3; i++) second.send(part)
    await waitFor('the stream past the shared room counted oversized', () => oversized() === 2, WAIT_MS, POLL_MS)
    assert.equal(first.status, 'open', 'the stream that came first keeps its parts')
    // Once that stream ends, its share is free again: a real sync in parts gets through.
    await first.close()
    const sync: Message = { type: 'sync', reply: true, join: true, members: Array.from({ length: 600 }, (_, i) => entry(i)) }
    a.transport.send({ id: b.id, addrs: b.addrs }, sync)
    await waitFor('the sync in parts arrives', () => b.received.length === 1, WAIT_MS, POLL_MS)
    assert.deepEqual(b.received[0].msg, sync)
    assert.ok((a.transport.stats().messagesByType.out.sync ?? 0) > 1, 'it went in parts')
    assert.equal(oversized(), 2)
  })

  it('drops inbound garbage: aborts the stream, counts it, keeps serving', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    type Counter = 'malformed' | 'oversized' | 'unsupportedVersion' | 'any'
    const dropped = (counter: Counter): number => {
      const d = b.transport.stats().dropped
      return counter === 'any' ? d.malformed + d.oversized + d.unsupportedVersion : d[counter]
    }
    const garbage: Array<[string, Uint8Array, Counter]> = [
      ['a length prefix that never ends', new Uint8Array(12).fill(0xff), 'malformed'],
      ['a frame over maxMessageBytes', lp.encode.single(new Uint8Array(1024 * 1024 + 1)).subarray(), 'oversized'],
      ['an undecodable body', lp.encode.single(Uint8Array.of(1, 0xff, 0xff, 0xff)).subarray(), 'malformed'],
      ['an unknown wire version', lp.encode.single(Uint8Array.of(2, 0x1a, 0x00)).subarray(), 'unsupportedVersion'],
      ['random bytes', Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 255), 'any']
    ]
    const conn = await a.node.dial(multiaddr(b.addrs[0]))
    for (const [what, bytes, counter] of garbage) {
      const before = dropped(counter)
      const raw = await conn.newStream(SWIM_PROTOCOL)
      raw.send(bytes)
      await waitFor(`${what} counted as ${counter}`, () => dropped(counter) === before + 1, WAIT_MS, POLL_MS)
      await waitFor(`${what}: stream reset by b`, () => raw.status !== 'open', WAIT_MS, POLL_MS)
    }
    assert.equal(b.received.length, 0)
    a.transport.send({ id: b.id, addrs: b.addrs }, ping(9, b.id))
    await waitFor('a valid ping after the garbage', () => b.received.length === 1, WAIT_MS, POLL_MS)
    assert.deepStrictEqual(b.received[0], { from: a.id, msg: ping(9, b.id) })
  })

  it('re-opens the stream after the remote reset it', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    a.transport.send({ id: b.id, addrs: b.addrs }, ping(1, b.id))
    await waitFor('first ping', () => b.received.length === 1, WAIT_MS, POLL_MS)
    // b's transport restarts: its inbound stream from a is aborted
    await b.transport.stop()
    await b.transport.start()
    let seq = 2
    await waitFor('a ping through a new stream', () => {
      if (b.received.length === 1) a.transport.send({ id: b.id, addrs: b.addrs }, ping(seq++, b.id))
      return b.received.length >= 2
    }, WAIT_MS, POLL_MS)
    assert.equal(b.received.at(-1)?.from, a.id)
  })

  it('reports the disconnection of a peer that stops', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    a.transport.send({ id: b.id, addrs: b.addrs }, ping(1, b.id))
    await waitFor('ping at b', () => b.received.length === 1, WAIT_MS, POLL_MS)
    await stopPeer(b)
    await waitFor('disconnect event at a', () => a.disconnected.includes(b.id), WAIT_MS, POLL_MS)
    // and now b's address refuses
    a.transport.send({ id: b.id, addrs: b.addrs }, ping(2, b.id))
    await waitFor('failure', () => a.failures.length === 1, WAIT_MS, POLL_MS)
    assert.equal(a.failures[0].reason, 'refused')
  })

  it('tracks paths: a dial and an acked ping mark a path up with its RTT, a TCP check of a closed port marks one down (refused), switchPath marks the used one down', { timeout: TEST_TIMEOUT_MS }, async () => {
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'], { pathSwitchMinIntervalMs: 1 })
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const dead = `/ip4/127.0.0.1/tcp/${await freePort()}/ws`
    const addrs = [...b.addrs, dead]
    assert.deepEqual(a.transport.paths(b.id, addrs).map(p => p.state), ['unknown', 'unknown'], 'nobody tried them yet')

    const pingSentAt = performance.now()
    a.transport.send({ id: b.id, addrs: b.addrs }, ping(1, b.id))
    await waitFor('ping at b', () => b.received.length === 1, WAIT_MS, POLL_MS)
    b.transport.send({ id: a.id, addrs: a.addrs }, { type: 'ack', seq: 1, updates: [] })
    await waitFor('ack at a', () => a.received.length === 1, WAIT_MS, POLL_MS)
    const ackSeenMs = performance.now() - pingSentAt
    const [tcp] = a.transport.paths(b.id, addrs)
    assert.equal(tcp.state, 'up')
    assert.equal(tcp.transport, 'tcp')
    // a duration in ms, within the round trip as this test saw it (not a bound on how fast it is)
    assert.ok(tcp.rttMs != null && tcp.rttMs >= 0 && tcp.rttMs <= ackSeenMs, `rtt ${String(tcp.rttMs)}, ack seen ${ackSeenMs} ms after the send`)

    a.transport.checkPaths([{ id: b.id, addrs }], 1000, 500)
    await waitFor('the closed port checked', () => a.transport.paths(b.id, addrs)[1].state === 'down', WAIT_MS, POLL_MS)
    assert.deepEqual(a.transport.paths(b.id, addrs)[1], { addr: dead, transport: 'ws', state: 'down', rttMs: null, lastError: 'refused' })
    assert.equal(a.transport.paths(b.id, addrs)[0].state, 'up', 'the path in use had fresh traffic: not checked, still up')
    assert.equal(a.transport.stats().pathChecks, 1)

    a.transport.switchPath(b.id)
    assert.deepEqual(a.transport.paths(b.id, addrs).map(p => [p.state, p.lastError]), [['down', 'timeout'], ['down', 'refused']])
  })

  // Every timeout that could end the dial to the silent peer is twice the
  // test's: a stop() that waited for that dial would fail the test by its
  // timeout, with no clock read here.
  it('stop() does not wait for a dial to a silent peer, flushes what it can, and send() afterwards neither throws nor reports', { timeout: TEST_TIMEOUT_MS }, async () => {
    const never = 2 * TEST_TIMEOUT_MS
    const a = await startPeer(['/ip4/127.0.0.1/tcp/0'], { dialTimeoutMs: never, connectTimeoutMs: never, stopFlushTimeoutMs: 300 }, { addressDialTimeoutMs: never })
    const b = await startPeer(['/ip4/127.0.0.1/tcp/0'])
    const silent = await silentServer()
    a.transport.send({ addrs: [`/ip4/127.0.0.1/tcp/${silent.port}`] }, ping(1, a.id.replace(/.$/, 'x')))
    await waitFor('the dial to the silent peer under way (its connection accepted)', () => silent.accepted() === 1, WAIT_MS, POLL_MS)
    // sent right before stop(), with no connection to b yet: stop() must give it time to go out
    a.transport.send({ id: b.id, addrs: b.addrs }, { type: 'gossip', updates: [{ type: 'leave', id: a.id, incarnation: 1 }] })
    await a.transport.stop()
    await waitFor('leave delivered', () => b.received.length === 1, WAIT_MS, POLL_MS)
    const sendFailed = a.transport.stats().dropped.sendFailed
    a.transport.send({ id: b.id, addrs: b.addrs }, ping(3, b.id))
    assert.equal(a.transport.stats().dropped.sendFailed, sendFailed + 1, 'the send after stop() is dropped and counted')
    // Failures are reported in a microtask, never from inside send(): by the next turn of the event loop one would have been.
    await setImmediate()
    assert.deepEqual(a.failures, [])
  })
})
