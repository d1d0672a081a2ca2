/**
 * Which connections the transport closes for idleness (gossip/idle-connections.ts):
 * those SWIM stopped using, unless a work stream is open on them.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Libp2p } from '@libp2p/interface'
import { IdleConnections } from '../../gossip/idle-connections.ts'

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

function setUp (peers: FakeConnection[]): IdleConnections {
  const libp2p = { getConnections: () => peers.filter(c => !c.closed) } as unknown as Libp2p
  return new IdleConnections(libp2p, { idleCloseMs: IDLE_MS, busyProtocols: [WORK] })
}

describe('gossip: idle connections', () => {
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
})
