/**
 * The SWIM port contract (swim-port.ts) against the simulated network
 * (testkit/sim/network.ts) as the simulator uses it: default latency (uniform
 * 1..10 ms), no loss, messages copied. Waits run the logical clock.
 */
import { seededRandom } from '../../membership/index.ts'
import { SimNetwork } from '../../testkit/sim/network.ts'
import { recorder, swimPortContract, type Endpoint, type World } from './swim-port.ts'

/** The first world's seed; each world takes the next (SIM_SEED=<n> to change it). */
const SEED = Number(process.env.SIM_SEED ?? 7301)
let worlds = 0

async function simWorld (): Promise<World> {
  const seed = SEED + worlds++
  const net = new SimNetwork({ random: seededRandom(seed) })
  let nodes = 0
  let ghosts = 0
  const mutes = new Map<Endpoint, () => void>()
  return {
    endpoints: async (n) => Array.from({ length: n }, () => {
      // ids as the codec accepts them (letters and digits), addresses as the simulator gives them
      const id = `sim${seed}n${nodes++}`
      const addrs = [`/memory/${id}`]
      const { inputs, log, mute } = recorder()
      const ep: Endpoint = { id, addrs, sender: net.attach(id, addrs, inputs), inputs: log }
      mutes.set(ep, mute)
      return ep
    }),
    deadAddr: async () => `/memory/sim${seed}nobody${ghosts++}`,
    unknownId: async () => `sim${seed}ghost${ghosts++}`,
    waitUntil: async (what, check, boundMs) => {
      const deadline = net.now + boundMs
      while (!check()) {
        if (net.now >= deadline) throw new Error(`not within ${boundMs} logical ms (seed ${seed}): ${what}`)
        net.runUntil(net.now + 1)
      }
    },
    // every latency the network draws is under a second
    settle: async () => { net.runUntil(net.now + 1000) },
    crash: async (ep) => {
      net.crash(ep.id, { refuse: true })
      mutes.get(ep)?.()
    },
    stop: async () => {}
  }
}

swimPortContract({
  name: 'simulated network (testkit/sim/network.ts)',
  world: simWorld,
  waitMs: 5000,
  caseTimeoutMs: 20_000
})
