/**
 * Which connections the transport closes for idleness and which it opens
 * (gossip/neighbour-connections.ts): it closes those SWIM stopped using, unless
 * a work stream is open on them or the peer is one of the membership's gossip
 * neighbours (or has this node among its own); it dials a neighbour without a connection once it has been one
 * for a sweep.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Libp2p } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { NeighbourConnections } from '../../gossip/neighbour-connections.ts'

const IDLE_MS = 60_000
const WORK = '/work/1'

interface FakeConnection { remotePeer: { toString: () => string }, streams: Array<{ protocol?: string }>, closed: boolean, close: () => Promise<void> }

function connectionTo (peer: string, protocols: string[] = []): FakeConnection {
  const c: FakeConnection = {
    remotePeer: { toString: () => peer },
    streams: protocols.map(protocol => ({ protocol })),
    closed: false,
    close: async () => { c.closed = true }
  }
  return c
}

function setUp (peers: FakeConnection[], neighbours: string[] = [], dialled: string[] = [], neighbourOf: string[] = []): NeighbourConnections {
  const libp2p = {
    getConnections: () => peers.filter(c => !c.closed),
    dial: async (id: { toString: () => string }) => { dialled.push(id.toString()) }
  } as unknown as Libp2p
  return new NeighbourConnections(libp2p, { idleCloseMs: IDLE_MS, busyProtocols: [WORK], neighbours: () => neighbours, neighbourOf: peer => neighbourOf.includes(peer), dialTimeoutMs: 1000 })
}

describe('gossip: neighbour connections', () => {
  it('closes a connection SWIM stopped using, once idle for idleCloseMs, but not one with a work stream', () => {
    const unused = connectionTo('unused')
    const working = connectionTo('working', [WORK])
    const idle = setUp([unused, working])
    const t0 = performance.now()
    for (const c of [unused, working]) idle.touch(c.remotePeer.toString())
    idle.sweep(t0 + IDLE_MS / 2)
    assert.equal(unused.closed, false, 'not idle long enough yet')
    idle.sweep(t0 + IDLE_MS + 1000)
    assert.equal(unused.closed, true)
    assert.equal(working.closed, false)
    assert.equal(idle.closed, 1)
  })

  it('a connection SWIM never used is timed from the first sweep that sees it', () => {
    const gossipsubOnly = connectionTo('g')
    const idle = setUp([gossipsubOnly])
    const t0 = performance.now()
    idle.sweep(t0)
    idle.sweep(t0 + IDLE_MS - 1)
    assert.equal(gossipsubOnly.closed, false)
    idle.sweep(t0 + IDLE_MS + 1)
    assert.equal(gossipsubOnly.closed, true)
  })

  // Both directions of a neighbourhood: the peer is one of ours (a long link of ours), or we are one of its (a long link of its lands here, and it would dial again).
  for (const relation of ['neighbour', 'neighbourOf'] as const) {
    it(`keeps the connection of ${relation === 'neighbour' ? 'a gossip neighbour' : 'a peer that has this node among its neighbours'} however idle, and closes it once that ends`, () => {
      const peer = connectionTo('linked')
      const linked = ['linked']
      const idle = relation === 'neighbour' ? setUp([peer], linked) : setUp([peer], [], [], linked)
      const t0 = performance.now()
      idle.touch('linked')
      idle.sweep(t0 + 10 * IDLE_MS)
      assert.equal(peer.closed, false)
      linked.length = 0
      idle.sweep(t0 + 10 * IDLE_MS + 1)
      assert.equal(peer.closed, true)
    })
  }

  it('dials a neighbour without a connection once it was one at the sweep before, and only once', async () => {
    const a = (await generateKeyPair('Ed25519')).publicKey.toString()
    const b = (await generateKeyPair('Ed25519')).publicKey.toString()
    const neighbours = [a]
    const dialled: string[] = []
    const upkeep = setUp([], neighbours, dialled)
    const t0 = performance.now()
    upkeep.sweep(t0)
    assert.deepEqual(dialled, [], 'a neighbour for no sweep yet: the ring may still be moving')
    neighbours.push(b)
    upkeep.sweep(t0 + 1)
    assert.deepEqual(dialled, [a])
    upkeep.sweep(t0 + 2)
    assert.deepEqual(dialled, [a, b], 'a dial not answered yet is not repeated')
  })
})
