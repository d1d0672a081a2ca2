/**
 * A libp2p connection over WebSockets that one side aborts (what
 * `switchPath` does to a path that looks dead) closes on the other side too.
 * @libp2p/websockets 10.1.21 reset with `close(1006)`, a code neither `ws`
 * nor the WHATWG WebSocket may send: the exception was swallowed and the
 * connection stayed open on the wire (patches/@libp2p+websockets+10.1.21.patch).
 */
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNode, type ClusterNode } from '../../gossip/index.ts'
import { waitFor } from './harness.ts'

async function pair (): Promise<[ClusterNode, ClusterNode]> {
  const listen = ['/ip4/127.0.0.1/tcp/0/ws']
  const a = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen })
  const b = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen })
  await a.dial(b.getMultiaddrs()[0])
  await waitFor('both sides hold the connection', () => a.getConnections().length === 1 && b.getConnections().length === 1, 5000)
  return [a, b]
}

describe('WebSocket connection reset', () => {
  for (const side of ['dialer', 'listener'] as const) {
    it(`aborted by the ${side}, it closes on the other side`, async () => {
      const [a, b] = await pair()
      try {
        const [aborting, other] = side === 'dialer' ? [a, b] : [b, a]
        aborting.getConnections()[0].abort(new Error('test: path looks dead'))
        await waitFor('the other side lost the connection', () => other.getConnections().length === 0, 5000)
      } finally {
        await a.stop()
        await b.stop()
      }
    })
  }
})
