/**
 * A workload of your own: count the words of many lines on every agent of a
 * two-agent cluster, each line counted exactly once. Run it from a checkout
 * after `npm ci`:
 *
 *   npx node examples/custom-workload.ts
 *
 * Register the workload on every agent that should run its tasks; submit the
 * job to any of them, which coordinates it.
 */
import { createAgent, type Workload } from 'gossip-cluster-agent'

const wordcount: Workload<string[], string, number, number> = {
  kind: 'map',
  description: 'words per line, summed',
  validate: (input) => {
    if (!Array.isArray(input) || !input.every(line => typeof line === 'string')) throw new Error('input must be an array of lines')
    return input
  },
  split: (lines) => lines, // one task per line
  run: async (line) => line.split(/\s+/).filter(Boolean).length,
  reduce: (results) => results.reduce((sum, r) => sum + r.value, 0)
}

const a = createAgent({ name: 'worker-a', listen: ['/ip4/127.0.0.1/tcp/0'], rpc: false })
await a.start()
const b = createAgent({ name: 'worker-b', listen: ['/ip4/127.0.0.1/tcp/0'], rpc: false, join: [a.multiaddrs[0]] })
await b.start()
await b.joined()
for (const agent of [a, b]) agent.workloads.register('wordcount', wordcount)

const lines = Array.from({ length: 100 }, (_, i) => 'word '.repeat(i + 1))
const job = await a.submit('wordcount', lines).result()
console.log(`job ${job.id} ${job.status}: ${String(job.result)} words; tasks per agent: ${JSON.stringify(job.stats.perNode)}`)

await b.leave()
await a.stop()
