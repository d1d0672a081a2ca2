/**
 * Footprint benchmark: idle RSS of ONE agent in a settled 5-agent cluster on
 * loopback. The other four agents are Node agents on the `lan` profile; the
 * measured one runs on Node (the bundled binary when AGENT_ENTRY is set, as
 * `npm run bench` does) or on Deno (the same bundle, dist/agent.mjs, when
 * DENO_AGENT_ENTRY is set, as `npm run bench` does; one row runs the
 * TypeScript sources through deno-compat/main.ts), with the default (`lan`)
 * or the `edge` profile. RSS is VmRSS from /proc/<pid>/status after IDLE_MS of
 * idle once every agent lists all five members alive.
 *
 * A variant may set environment variables for the measured process only,
 * such as DENO_V8_FLAGS (Deno reads V8 flags from it as from `--v8-flags`).
 *
 * Each variant first starts its agent once unmeasured: Deno keeps compiled
 * code in a cache that is valid only for the V8 flags it was made with, and a
 * start that has to fill it holds ~40 MB more than every later start.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DENO_EDGE_ENV } from '../deno-compat/edge-settings.ts'
import { newClusterKey } from '../gossip/cluster-key.ts'
import { REPO, freePort, killAll, membersViaApi, startAgent, waitFor, type AgentProcess } from '../test/integration/harness.ts'

export interface FootprintVariant {
  label: string
  runtime: 'node' | 'deno'
  profile: 'lan' | 'edge'
  /** Target idle RSS, MB; none for a row that is there to compare. */
  targetMb?: number
  /** Environment of the measured process only. */
  env?: Record<string, string>
  /** What the Deno agent runs, when not the harness's default. */
  denoEntry?: string
  /** All five agents share a cluster key (what a real deployment should run). */
  clusterKey?: boolean
}

const describeEnv = (env: Record<string, string>): string => Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')
const DENO_SOURCES = `${REPO}deno-compat/main.ts`

export const VARIANTS: FootprintVariant[] = [
  { label: 'Node, default (lan)', runtime: 'node', profile: 'lan', targetMb: 100 },
  { label: 'Node, edge', runtime: 'node', profile: 'edge', targetMb: 100 },
  { label: 'Deno, default (lan)', runtime: 'deno', profile: 'lan', targetMb: 100 },
  { label: 'Deno, edge', runtime: 'deno', profile: 'edge', targetMb: 70 },
  { label: `Deno, edge + ${describeEnv(DENO_EDGE_ENV)}`, runtime: 'deno', profile: 'edge', targetMb: 70, env: DENO_EDGE_ENV },
  { label: `Deno, edge + ${describeEnv(DENO_EDGE_ENV)}, cluster key`, runtime: 'deno', profile: 'edge', env: DENO_EDGE_ENV, clusterKey: true },
  { label: 'Deno, default (lan), TypeScript sources (deno-compat/main.ts)', runtime: 'deno', profile: 'lan', denoEntry: DENO_SOURCES }
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

/** A key file for the variants with `clusterKey`, written once. */
let keyDir: string | undefined
async function keyArgs (variant: FootprintVariant): Promise<string[]> {
  if (variant.clusterKey !== true) return []
  if (keyDir == null) {
    keyDir = await mkdtemp(join(tmpdir(), 'footprint-'))
    await writeFile(join(keyDir, 'cluster.key'), newClusterKey(), { mode: 0o600 })
  }
  return ['--cluster-key', join(keyDir, 'cluster.key')]
}

async function startSubject (variant: FootprintVariant, joinAddrs: string[]): Promise<AgentProcess> {
  return await startAgent({
    name: 'subject', join: joinAddrs, profile: variant.profile, runtime: variant.runtime, denoEntry: variant.denoEntry, env: variant.env, extraArgs: await keyArgs(variant)
  })
}

/** One run: a fresh 5-agent cluster; returns the measured agent's idle RSS in MB. */
export async function runFootprintOnce (variant: FootprintVariant): Promise<number> {
  const port = await freePort()
  const seedAddr = `/ip4/127.0.0.1/tcp/${port}`
  const agents: AgentProcess[] = []
  try {
    const extraArgs = await keyArgs(variant)
    agents.push(await startAgent({ name: 'f1', listen: [seedAddr, '/ip4/127.0.0.1/tcp/0/ws'], extraArgs }))
    const others = []
    for (let i = 2; i < CLUSTER_SIZE; i++) others.push(startAgent({ name: `f${i}`, join: [seedAddr], extraArgs }))
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
  try {
    for (const variant of variants) {
      const warmUp = await startSubject(variant, [])
      await sleep(1000)
      await killAll([warmUp])
      const values: number[] = []
      for (let i = 0; i < runs; i++) {
        const mb = await runFootprintOnce(variant)
        values.push(mb)
        console.error(`footprint ${variant.label} run ${i + 1}/${runs}: ${mb} MB`)
      }
      results.push({ variant, values })
    }
  } finally {
    if (keyDir != null) await rm(keyDir, { recursive: true, force: true })
  }
  return results
}
