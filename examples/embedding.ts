/**
 * Two agents embedded in one program: the second joins the first, both see
 * each other, one leaves. Run it from a checkout after `npm ci`:
 *
 *   npx node examples/embedding.ts
 *
 * Each agent needs its own ports: `listen` on port 0 lets the system pick
 * free ones (the default is 7946 and 7947, as for the CLI), and `rpc: false`
 * runs no control API (the default is 127.0.0.1:7373).
 */
import { createAgent } from 'gossip-cluster-agent'

const first = createAgent({ name: 'edge-1', listen: ['/ip4/127.0.0.1/tcp/0'], rpc: false })
await first.start()

const second = createAgent({ name: 'edge-2', listen: ['/ip4/127.0.0.1/tcp/0'], rpc: false, join: [first.multiaddrs[0]] })
second.on('member:join', m => { console.log(`edge-2 sees ${m.name} join`) })
await second.start()
await second.joined() // a seed answered: edge-2 now holds the cluster's view

console.log('edge-2 knows:', second.members().map(m => `${m.name} ${m.status}`).join(', '))

const left = new Promise<string>(resolve => { first.on('member:leave', m => { resolve(m.name) }) })
await second.leave()
console.log(`edge-1 sees ${await left} leave`)
await first.stop()
