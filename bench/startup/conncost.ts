// CPU per connection between two in-process nodes made by gossip/libp2p-node.ts
// (the agent's), both subscribed to one gossipsub topic: ROUNDS connections
// opened and closed over loopback TCP, each held until both sides' gossipsub
// streams are open. Prints ms of CPU (user + system, both sides together) per
// connection. The AGENT_EXP_* switches of gossip/libp2p-node.ts pick the variant
// when this runs against a build that has them.
//
//   node bench/startup/conncost.ts [ROUNDS]
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNode } from '../../gossip/libp2p-node.ts'

const ROUNDS = Number(process.argv[2] ?? 60)
const make = async () => await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
const a = await make()
const b = await make()
a.services.pubsub.subscribe('/t')
b.services.pubsub.subscribe('/t')
const bothSee = async (): Promise<void> => {
  const t0 = performance.now()
  while (!(a.services.pubsub.getSubscribers('/t').length > 0 && b.services.pubsub.getSubscribers('/t').length > 0)) {
    if (performance.now() - t0 > 5000) throw new Error('gossipsub peers not seen within 5 s')
    await new Promise(resolve => setTimeout(resolve, 1))
  }
}
const once = async (): Promise<void> => {
  const c = await a.dial(b.getMultiaddrs()[0])
  await bothSee()
  await c.close()
  while (a.services.pubsub.getSubscribers('/t').length > 0 || b.services.pubsub.getSubscribers('/t').length > 0) await new Promise(resolve => setTimeout(resolve, 1))
}
for (let i = 0; i < 5; i++) await once() // warm up
const u0 = process.cpuUsage()
const t0 = performance.now()
for (let i = 0; i < ROUNDS; i++) await once()
const u = process.cpuUsage(u0)
console.log(`${((u.user + u.system) / 1000 / ROUNDS).toFixed(2)} ms CPU per connection (both sides), wall ${((performance.now() - t0) / ROUNDS).toFixed(1)} ms`)
await a.stop()
await b.stop()
