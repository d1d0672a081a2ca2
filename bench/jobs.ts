/**
 * Work-claims benchmark, real agent processes on loopback:
 * Each cluster runs a small warm-up job of each kind first (see cluster()).
 * - throughput: a job of no-op tasks (`sleep` with 0 ms) submitted to one of
 *   5 agents; tasks counted per second of job time (POST → done);
 * - speed-up: a CPU-bound `primes` job on 2 agents against the same job on 1
 *   agent. Each agent runs with `--slots 1`, so an agent is one CPU's worth
 *   of workers and 2 agents can use both cores of the bench machine;
 * - the machine's own ceiling for that figure: the same CPU-bound function in
 *   one thread, then in two threads at once, in this process, no agent at all.
 */
import { jobViaApi, killAll, startCluster, submitViaApi, waitAllSee, waitFor, type AgentProcess } from '../test/integration/harness.ts'
import { ThreadPool } from '../agent/task-threads.ts'

const TIMEOUT_MS = 180_000

/** Submits through the control API and returns the job's wall time in ms (POST → done seen by polling). */
async function timeJob (agent: AgentProcess, workload: string, input: unknown, expect: unknown): Promise<number> {
  const start = performance.now()
  const id = await submitViaApi(agent, workload, input)
  let result: unknown
  await waitFor(`job ${id} done`, async () => {
    const job = await jobViaApi(agent, id)
    if (job?.status === 'failed') throw new Error(`job failed: ${job.error}`)
    result = job?.result
    return job?.status === 'done'
  }, TIMEOUT_MS, 100)
  const ms = performance.now() - start
  if (JSON.stringify(result) !== JSON.stringify(expect)) throw new Error(`job returned ${JSON.stringify(result)}, expected ${JSON.stringify(expect)}`)
  return ms
}

/**
 * A settled cluster of n agents, warmed up: one small job of each kind has
 * run, so the timed job measures steady state (a long-running agent), not
 * V8 compiling the work-claims code on its first use, which on a 2-core
 * machine competes with the other agent's task thread.
 */
async function cluster (n: number, slots: number): Promise<AgentProcess[]> {
  const agents = await startCluster(n, 'bench', 'lan', ['--slots', String(slots)])
  await waitAllSee(agents, agents, 'alive', 60_000)
  await new Promise(resolve => setTimeout(resolve, 2000)) // let the gossipsub mesh form
  await timeJob(agents[0], 'primes', { from: 0, to: 300_000, chunks: 30 }, 25997)
  await timeJob(agents[0], 'sleep', { tasks: 500, ms: 0 }, 500)
  return agents
}

export interface JobsRun {
  /** No-op tasks per second through 5 agents. */
  noopTasksPerSec: number
  primes1AgentMs: number
  primes2AgentsMs: number
  speedup: number
  /** Two threads against one on the bare machine: what `speedup` can reach at best. */
  machineSpeedup: number
}

/** countPrimes(0, 10M) in one thread, then in two at once: the machine's parallel speed-up. */
async function machineSpeedup (): Promise<number> {
  const pool = new ThreadPool()
  const signal = new AbortController().signal
  const task = { from: 0, to: 10_000_000 }
  try {
    await Promise.all([pool.run('primes', { from: 0, to: 1000 }, 'bench', signal), pool.run('primes', { from: 0, to: 1000 }, 'bench', signal)]) // boot both threads
    let start = performance.now()
    await pool.run('primes', task, 'bench', signal)
    const one = performance.now() - start
    start = performance.now()
    await Promise.all([pool.run('primes', task, 'bench', signal), pool.run('primes', task, 'bench', signal)])
    return Math.round(2 * one / (performance.now() - start) * 100) / 100
  } finally {
    await pool.close()
  }
}

export const NOOP_TASKS = Number(process.env.BENCH_NOOP_TASKS ?? 10_000)
export const NOOP_SLOTS = 64
export const PRIMES_INPUT = { from: 0, to: 20_000_000, chunks: 200 }

/** Starts a warmed cluster of n agents, times one job on agent `at`, stops the cluster. */
async function timeOnCluster (n: number, slots: number, at: number, workload: string, input: unknown, expect: unknown): Promise<number> {
  const agents = await cluster(n, slots)
  try {
    return await timeJob(agents[at], workload, input, expect)
  } finally {
    await killAll(agents)
  }
}

export async function runJobsBench (): Promise<JobsRun> {
  const noopMs = await timeOnCluster(5, NOOP_SLOTS, 2, 'sleep', { tasks: NOOP_TASKS, ms: 0 }, NOOP_TASKS)
  const one = await timeOnCluster(1, 1, 0, 'primes', PRIMES_INPUT, 1270607)
  const two = await timeOnCluster(2, 1, 0, 'primes', PRIMES_INPUT, 1270607)
  return {
    machineSpeedup: await machineSpeedup(),
    noopTasksPerSec: Math.round(NOOP_TASKS / (noopMs / 1000)),
    primes1AgentMs: Math.round(one),
    primes2AgentsMs: Math.round(two),
    speedup: Math.round(one / two * 100) / 100
  }
}
