/**
 * Embedding the agent on a small device, under Deno:
 *   deno run -A deno-compat/example.ts /ip4/10.0.0.5/tcp/7946
 * The first argument is any member's address; without it this device starts a cluster.
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
agent.on('member:leave', m => console.log(`${m.name} left`))
await agent.start()
console.log(`${agent.self().name} up at ${agent.multiaddrs.join(' ')}`)

// Ctrl-C: say goodbye so that the others show this device `left`, not `failed`.
Deno.addSignalListener('SIGINT', () => {
  agent.leave().finally(() => Deno.exit(0))
})
