/**
 * The SWIM port contract (swim-port.ts) against the libp2p transport
 * (gossip/swim-transport.ts on gossip/libp2p-node.ts), over TCP and over WebSockets,
 * on 127.0.0.1 with OS-chosen ports. Waits are real time, woken by the
 * recorded inputs (no polling, no sleeps).
 *
 * Endpoints run in this process, except killable ones: those run in a child
 * process (libp2p-endpoint.ts) that a crash kills with SIGKILL, so the kernel
 * closes its sockets and its port refuses, as after a real kill -9 (aborting
 * a node's connections in this process would leave its listener answering).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createNode, createSwimTransport } from '../../gossip/index.ts'
import type { ClusterNode, SwimTransport } from '../../gossip/index.ts'
import type { DeliveryFailure } from '../../membership/index.ts'
import type { FromEndpoint, ToEndpoint } from './libp2p-endpoint.ts'
import { recorder, swimPortContract, type Endpoint, type World } from './swim-port.ts'
import { freePort } from '../integration/harness.ts'

/** Bound on a child endpoint's start (a Node process loading libp2p). */
const CHILD_START_MS = 15_000

interface Running {
  ep: Endpoint
  mute: () => void
  /** In this process. */
  local?: { node: ClusterNode, transport: SwimTransport }
  /** In a child process (killable). */
  child?: ChildProcess
  exited?: Promise<void>
}

/** `listen`: the one listen address of every endpoint; `suffix`: what follows /tcp/<port> in its addresses. */
function libp2pWorld (listen: string, suffix: string): () => Promise<World> {
  return async () => {
    const running: Running[] = []
    /** Sends that threw inside a child endpoint (send must never throw). */
    const threw: string[] = []
    const waiters = new Set<() => void>()
    const wake = (): void => { for (const w of [...waiters]) w() }

    const local = async (): Promise<Endpoint> => {
      const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: [listen] })
      const { inputs, log, mute } = recorder(wake)
      // a refusal on loopback is immediate: a short dial budget keeps a wrong answer quick;
      // the suite's markers are digests, which may wait before their dial (gossip/dial-yield.ts)
      const transport = createSwimTransport(node, inputs, { dialTimeoutMs: 2000, gossipDialYieldMs: 500, gossipDialSettleMs: 500 })
      await transport.start()
      const ep: Endpoint = {
        id: node.peerId.toString(),
        addrs: node.getMultiaddrs().map(a => a.toString().replace(/\/p2p\/[^/]+$/, '')),
        sender: transport,
        inputs: log
      }
      running.push({ ep, mute, local: { node, transport } })
      return ep
    }

    const killable = async (): Promise<Endpoint> => {
      const child = fork(new URL('./libp2p-endpoint.ts', import.meta.url), [listen], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
      const { inputs, log, mute } = recorder(wake)
      const ready = await new Promise<{ id: string, addrs: string[] }>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`child endpoint not ready within ${CHILD_START_MS} ms`)) }, CHILD_START_MS)
        void exited.then(() => { clearTimeout(timer); reject(new Error('child endpoint exited before it was ready')) })
        child.on('message', (m: FromEndpoint) => {
          switch (m.ev) {
            case 'ready': clearTimeout(timer); resolve(m); break
            case 'message': inputs.onMessage(m.from, m.msg); break
            case 'failed': inputs.onDeliveryFailed(m.to, m.msg, m.reason as DeliveryFailure); break
            case 'disconnected': inputs.onPeerDisconnected(m.id); break
            case 'threw': threw.push(m.error); break
          }
        })
      }).catch(err => { child.kill('SIGKILL'); throw err })
      const ep: Endpoint = {
        id: ready.id,
        addrs: ready.addrs,
        sender: { send: (to, msg) => { child.send({ op: 'send', to, msg } satisfies ToEndpoint) } },
        inputs: log
      }
      running.push({ ep, mute, child, exited })
      return ep
    }

    return {
      endpoints: async (n, opts = {}) => await Promise.all(Array.from({ length: n }, async () => opts.killable === true ? await killable() : await local())),
      deadAddr: async () => `/ip4/127.0.0.1/tcp/${await freePort()}${suffix}`,
      unknownId: async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(),
      waitUntil: async (what, check, boundMs) => {
        if (check()) return
        await new Promise<void>((resolve, reject) => {
          const done = (): void => { clearTimeout(timer); waiters.delete(onInput) }
          const onInput = (): void => {
            if (!check()) return
            done()
            resolve()
          }
          const timer = setTimeout(() => { done(); reject(new Error(`not within ${boundMs} ms: ${what}`)) }, boundMs)
          waiters.add(onInput)
        })
      },
      // links are ordered (one stream per peer): the suite's barrier message is enough
      settle: async () => {},
      crash: async (ep) => {
        const r = running.find(x => x.ep === ep)
        if (r?.child == null) throw new Error('only a killable endpoint can be crashed')
        r.mute()
        r.child.kill('SIGKILL')
        // the kernel has closed its sockets once the parent sees it gone
        await r.exited
      },
      stop: async () => {
        await Promise.allSettled(running.map(async r => {
          r.mute()
          if (r.child != null) {
            r.child.kill('SIGKILL')
            await r.exited
          } else if (r.local != null) {
            await r.local.transport.stop()
            await r.local.node.stop()
          }
        }))
        if (threw.length > 0) throw new Error(`send threw in a child endpoint: ${threw.join('; ')}`)
      }
    }
  }
}

for (const [name, listen, suffix] of [
  ['TCP', '/ip4/127.0.0.1/tcp/0', ''],
  ['WebSockets', '/ip4/127.0.0.1/tcp/0/ws', '/ws']
] as const) {
  swimPortContract({
    name: `libp2p transport over ${name} (gossip/swim-transport.ts)`,
    world: libp2pWorld(listen, suffix),
    waitMs: 5000,
    caseTimeoutMs: 30_000
  })
}
