/**
 * Embedding the agent on a small device, under Deno:
 *   deno run -A deno-compat/example.ts /ip4/10.0.0.5/tcp/7946
 * The first argument is any member's address; without it this device starts a cluster.
 * Any device can then `await agent.submit('reading', {}).result()` to collect every device's reading.
 */
import { createAgent } from '../agent/index.ts'

const agent = createAgent({
  name: `device-${Deno.pid}`,
  join: Deno.args.slice(0, 1),
  listen: ['/ip4/0.0.0.0/tcp/0'], // TCP only, any free port
  rpc: false, // no control API: this program is the only user
  tags: { role: 'sensor' }
})
agent.on('member:join', m => console.log(`${m.name} joined`))
agent.on('member:failed', m => console.log(`${m.name} failed (${m.cause})`))
await agent.start()
// A broadcast workload: each device answers once with its reading.
agent.workloads.register('reading', {
  kind: 'broadcast',
  description: 'current sensor reading of every device',
  validate: () => ({ tags: { role: 'sensor' } }), // ask the sensors only
  run: async () => ({ celsius: 20 + Math.random() * 5 }),
  reduce: (results) => Object.fromEntries(results.map(r => [r.node, r.value]))
})
console.log(`${agent.self().name} up at ${agent.multiaddrs.join(' ')}`)
// Ctrl-C: say goodbye so that the others show this device `left`, not `failed`.
Deno.addSignalListener('SIGINT', () => { agent.leave().finally(() => Deno.exit(0)) })
