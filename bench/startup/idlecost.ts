// Idle cost of held connections: NODES in-process nodes made by gossip/libp2p-node.ts,
// every one connected to every other and subscribed to one gossipsub topic
// (as agents are to the work topic), then nothing happens for IDLE seconds.
// Prints this process's CPU over the idle window (% of one core; every node
// together) and the bytes written to and read from the sockets (counted by
// this process's I/O, loopback both ways). The AGENT_EXP_* switches of
// gossip/libp2p-node.ts pick the variant when this runs against a build that has them.
//
//   node bench/startup/idlecost.ts [NODES] [IDLE]
import { ioBytes } from '../proc.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNode, type ClusterNode } from '../../gossip/libp2p-node.ts'

const NODES = Number(process.argv[2] ?? 10)
const IDLE = Number(process.argv[3] ?? 30)
const io = async (): Promise<number> => (await ioBytes('self')).writtenB
const nodes: ClusterNode[] = []
for (let i = 0; i < NODES; i++) nodes.push(await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] }))
for (const n of nodes) n.services.pubsub.subscribe('/t')
for (let i = 0; i < NODES; i++) for (let j = i + 1; j < NODES; j++) await nodes[i].dial(nodes[j].getMultiaddrs()[0])
const t0 = performance.now()
while (!nodes.every(n => n.services.pubsub.getSubscribers('/t').length === NODES - 1)) {
  if (performance.now() - t0 > 30_000) throw new Error('gossipsub peers not all seen within 30 s')
  await new Promise(resolve => setTimeout(resolve, 50))
}
await new Promise(resolve => setTimeout(resolve, 5000)) // meshes settle
const u0 = process.cpuUsage(); const w0 = await io(); const i0 = performance.now()
await new Promise(resolve => setTimeout(resolve, IDLE * 1000))
const secs = (performance.now() - i0) / 1000
const u = process.cpuUsage(u0)
const conns = NODES * (NODES - 1) / 2
const written = await io() - w0
console.log(`${NODES} nodes, ${conns} connections, ${secs.toFixed(0)} s idle: CPU ${((u.user + u.system) / 1e6 / secs * 100).toFixed(2)} % of a core (${((u.user + u.system) / 1e6 / secs * 100 / NODES).toFixed(3)} per node), written ${(written / secs).toFixed(0)} B/s (${(written / secs / NODES).toFixed(0)} per node)`)
await Promise.all(nodes.map(async n => { await n.stop() }))
