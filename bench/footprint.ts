/**
 * Footprint benchmark: idle RSS of ONE agent in a settled 5-agent cluster on
 * loopback. The other four agents are Node agents on the `lan` profile; the
 * measured one runs on Node (the bundled binary when AGENT_ENTRY is set, as
 * `npm run bench` does) or on Deno (deno-compat/main.ts), with the default
 * (`lan`) or the `edge` profile. RSS is VmRSS from /proc/<pid>/status after
 * IDLE_MS of idle once every agent lists all five members alive.
 *
 * A variant may set DENO_V8_FLAGS for its own process only (Deno reads V8
 * flags from that variable as from `--v8-flags`); it is restored right after
 * the spawn, so the other agents and variants are unaffected.
 */
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort, killAll, membersViaApi, startAgent, waitFor, type AgentProcess } from '../test/integration/harness.ts'

export interface FootprintVariant {
  label: string
  runtime: 'node' | 'deno'
  profile: 'lan' | 'edge'
  /** Target idle RSS, MB. */
  targetMb: number
  /** DENO_V8_FLAGS for the measured Deno process only. */
  denoV8Flags?: string
}

/** Cheap V8 lever for Deno on small devices: a 1 MiB young generation (default 16 MiB+ per semi-space on 64-bit). */
export const DENO_EDGE_V8_FLAGS = '--max-semi-space-size=1'

export const VARIANTS: FootprintVariant[] = [
  { label: 'Node, default (lan)', runtime: 'node', profile: 'lan', targetMb: 100 },
  { label: 'Node, edge', runtime: 'node', profile: 'edge', targetMb: 100 },
  { label: 'Deno, default (lan)', runtime: 'deno', profile: 'lan', targetMb: 100 },
  { label: 'Deno, edge', runtime: 'deno', profile: 'edge', targetMb: 70 },
  { label: `Deno, edge + DENO_V8_FLAGS=${DENO_EDGE_V8_FLAGS}`, runtime: 'deno', profile: 'edge', targetMb: 70, denoV8Flags: DENO_EDGE_V8_FLAGS }
]

const CLUSTER_SIZE = 5
const TIMEOUT_MS = 60_000
/** Idle time after convergence before reading RSS. */
const IDLE_MS = Number(process.env.FOOTPRINT_IDLE_MS ?? 10_000)

async function rssMb (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
  return Math.round(kb / 1024 * 10) / 10
}

async function startSubject (variant: FootprintVariant, join: string[]): Promise<AgentProcess> {
  const saved = process.env.DENO_V8_FLAGS
  if (variant.denoV8Flags != null) process.env.DENO_V8_FLAGS = variant.denoV8Flags
  try {
    return await startAgent({ name: 'subject', join, profile: variant.profile, runtime: variant.runtime })
  } finally {
    if (saved === undefined) delete process.env.DENO_V8_FLAGS
    else process.env.DENO_V8_FLAGS = saved
  }
}

/** One run: a fresh 5-agent cluster; returns the measured agent's idle RSS in MB. */
export async function runFootprintOnce (variant: FootprintVariant): Promise<number> {
  const port = await freePort()
  const seedAddr = `/ip4/127.0.0.1/tcp/${port}`
  const agents: AgentProcess[] = []
  try {
    agents.push(await startAgent({ name: 'f1', listen: [seedAddr, '/ip4/127.0.0.1/tcp/0/ws'] }))
    const others = []
    for (let i = 2; i < CLUSTER_SIZE; i++) others.push(startAgent({ name: `f${i}`, join: [seedAddr] }))
    agents.push(...await Promise.all(others))
    const subject = await startSubject(variant, [seedAddr])
    agents.push(subject)
    await waitFor('footprint cluster converged', async () => {
      const views = await Promise.all(agents.map(membersViaApi))
      return views.every(v => v.length === CLUSTER_SIZE && v.every(m => m.status === 'alive'))
    }, TIMEOUT_MS, 100)
    await sleep(IDLE_MS)
    return await rssMb(subject.child.pid!)
  } finally {
    await killAll(agents)
  }
}

export interface FootprintResult { variant: FootprintVariant, values: number[] }

export async function runFootprintBench (runs: number, variants = VARIANTS): Promise<FootprintResult[]> {
  const results: FootprintResult[] = []
  for (const variant of variants) {
    const values: number[] = []
    for (let i = 0; i < runs; i++) {
      const mb = await runFootprintOnce(variant)
      values.push(mb)
      console.error(`footprint ${variant.label} run ${i + 1}/${runs}: ${mb} MB`)
    }
    results.push({ variant, values })
  }
  return results
}
