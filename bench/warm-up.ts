/**
 * Before a benchmark times starts: a few agents joined together, run long
 * enough for the bundle's code cache to be written (agent/code-cache.js), so
 * that every timed start is as warm as on a machine that ran the agent before.
 * Costs a few seconds; without it the first timed start would compile
 * everything from scratch and the next ones would not.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { killAll, startAgent } from '../test/integration/harness.ts'

const WARM_AGENTS = 3
const CACHE_AFTER_MS = 4000

export async function warmUp (): Promise<void> {
  const env = { AGENT_CODE_CACHE_AFTER_MS: String(CACHE_AFTER_MS) }
  const seed = await startAgent({ name: 'warm-up-1', env, startTimeoutMs: 60_000 })
  const others = await Promise.all(Array.from({ length: WARM_AGENTS - 1 }, (_, i) =>
    startAgent({ name: `warm-up-${i + 2}`, join: [seed.multiaddrs[0]], env, startTimeoutMs: 60_000 })))
  await sleep(CACHE_AFTER_MS + 1000)
  await killAll([seed, ...others])
}
