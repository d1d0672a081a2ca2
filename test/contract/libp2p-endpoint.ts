/**
 * One libp2p SWIM endpoint in a process of its own, for the contract's kill -9
 * (libp2p.test.ts): the parent forks it, sends through it and hears its
 * inputs over IPC, and kills it with SIGKILL, so the kernel closes its
 * sockets and its port refuses, as for a crashed agent.
 *
 * argv[2]: the listen multiaddr. IPC (advanced serialization, so messages keep
 * their Uint8Arrays), child to parent: `ready` {id, addrs}, then `message`,
 * `failed`, `disconnected` as the transport reports them, and `threw` if a
 * send threw; parent to child: `send` {to, msg}.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNode, createSwimTransport } from '../../gossip/index.ts'
import type { Destination, Message } from '../../membership/index.ts'

export type ToEndpoint = { op: 'send', to: Destination, msg: Message }
export type FromEndpoint =
  | { ev: 'ready', id: string, addrs: string[] }
  | { ev: 'message', from: string, msg: Message }
  | { ev: 'failed', to: Destination, msg: Message, reason: string }
  | { ev: 'disconnected', id: string }
  | { ev: 'threw', error: string }

const tell = (m: FromEndpoint): void => { process.send?.(m) }

if (process.send != null) {
  // the parent went away: nothing is left to serve
  process.on('disconnect', () => { process.exit(0) })
  const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: [process.argv[2]] })
  const transport = createSwimTransport(node, {
    onMessage: (from, msg) => { tell({ ev: 'message', from, msg }) },
    onDeliveryFailed: (to, msg, reason) => { tell({ ev: 'failed', to, msg, reason }) },
    onPeerDisconnected: id => { tell({ ev: 'disconnected', id }) }
  }, { dialTimeoutMs: 2000, gossipDialYieldMs: 500, gossipDialSettleMs: 500 }) // as the parent's endpoints (libp2p.test.ts)
  await transport.start()
  process.on('message', (m: ToEndpoint) => {
    if (m.op !== 'send') return
    try {
      transport.send(m.to, m.msg)
    } catch (err) {
      tell({ ev: 'threw', error: String(err) })
    }
  })
  tell({ ev: 'ready', id: node.peerId.toString(), addrs: node.getMultiaddrs().map(a => a.toString().replace(/\/p2p\/[^/]+$/, '')) })
}
