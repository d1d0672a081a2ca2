/**
 * Built-in workloads: `primes`, `sha256`, `sleep` (map) and `echo` (broadcast).
 * `validate`, `split` and `reduce` are pure; `run` honours its AbortSignal and
 * uses only web-standard APIs (crypto.subtle, setTimeout), so Deno runs it too.
 */
import { sha256 as sha256Hash } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { CountedResult, RunContext, Workload, WorkloadRegistry } from './types.ts'

function object (input: unknown): Record<string, unknown> {
  if (input == null || typeof input !== 'object' || Array.isArray(input)) throw new Error('input must be a JSON object')
  return input as Record<string, unknown>
}

function integer (obj: Record<string, unknown>, key: string, min: number, max: number, fallback?: number): number {
  const value = obj[key] ?? fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${key} must be an integer in [${min}, ${max}]${value === undefined ? ' (missing)' : `, got ${JSON.stringify(value)}`}`)
  }
  return value
}

function checkAborted (signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted')
}

function sum (results: Array<CountedResult<number>>): number {
  let total = 0
  for (const r of results) total += r.value
  return total
}

/** Counts primes in [from, to) by trial division by odd numbers (CPU-bound on purpose). */
export function countPrimes (from: number, to: number, signal?: AbortSignal): number {
  let count = 0
  for (let n = Math.max(from, 2); n < to; n++) {
    if ((n & 1023) === 0 && signal != null) checkAborted(signal)
    if (n < 4) { count++; continue }
    if (n % 2 === 0) continue
    let prime = true
    for (let d = 3; d * d <= n; d += 2) {
      if (n % d === 0) { prime = false; break }
    }
    if (prime) count++
  }
  return count
}

export interface PrimesInput { from: number, to: number, chunks: number }

/** Largest number primes counts to: trial division stays in safe integers. */
const PRIMES_MAX = 2 ** 40

export const primes: Workload<PrimesInput, { from: number, to: number }, number, number> = {
  kind: 'map',
  cpuBound: true,
  description: 'count primes in [from, to), split into `chunks` ranges',
  validate (input) {
    const o = object(input)
    const from = integer(o, 'from', 0, PRIMES_MAX)
    const to = integer(o, 'to', from, PRIMES_MAX)
    const chunks = integer(o, 'chunks', 1, 100_000, 1)
    return { from, to, chunks }
  },
  validateTask (task) {
    const o = object(task)
    const from = integer(o, 'from', 0, PRIMES_MAX)
    return { from, to: integer(o, 'to', from, PRIMES_MAX) }
  },
  split ({ from, to, chunks }) {
    const size = Math.ceil((to - from) / chunks)
    const tasks: Array<{ from: number, to: number }> = []
    for (let start = from; start < to; start += size) tasks.push({ from: start, to: Math.min(to, start + size) })
    return tasks
  },
  async run (task, ctx) {
    return countPrimes(task.from, task.to, ctx.signal)
  },
  reduce: sum
}

export interface Sha256Input { blocks: number, blockBytes: number, chunks: number }

const SHA256_MAX_BLOCKS = 10_000_000
const SHA256_MAX_BLOCK_BYTES = 16 * 1024 * 1024

/** Deterministic block content: byte i of block b is (b * 31 + i) mod 251. */
export function blockData (block: number, bytes: number): Uint8Array {
  const data = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) data[i] = (block * 31 + i) % 251
  return data
}

export const sha256: Workload<Sha256Input, { first: number, count: number, blockBytes: number }, string, string> = {
  kind: 'map',
  cpuBound: true,
  description: 'SHA-256 of `blocks` generated blocks of `blockBytes`; result: the chunks\' digests (each over its block digests), joined in order',
  validate (input) {
    const o = object(input)
    const blocks = integer(o, 'blocks', 1, SHA256_MAX_BLOCKS)
    const blockBytes = integer(o, 'blockBytes', 1, SHA256_MAX_BLOCK_BYTES, 1024 * 1024)
    const chunks = integer(o, 'chunks', 1, 100_000, Math.min(blocks, 64))
    return { blocks, blockBytes, chunks }
  },
  validateTask (task) {
    const o = object(task)
    const first = integer(o, 'first', 0, SHA256_MAX_BLOCKS - 1)
    const count = integer(o, 'count', 1, SHA256_MAX_BLOCKS - first)
    return { first, count, blockBytes: integer(o, 'blockBytes', 1, SHA256_MAX_BLOCK_BYTES) }
  },
  split ({ blocks, blockBytes, chunks }) {
    const size = Math.ceil(blocks / chunks)
    const tasks: Array<{ first: number, count: number, blockBytes: number }> = []
    for (let first = 0; first < blocks; first += size) tasks.push({ first, count: Math.min(size, blocks - first), blockBytes })
    return tasks
  },
  async run (task, ctx) {
    // Each task answers the hex SHA-256 of its blocks' digests concatenated,
    // hashed as they come so that a task holds one block at a time.
    const outer = sha256Hash.create()
    for (let b = 0; b < task.count; b++) {
      checkAborted(ctx.signal)
      const digest = await crypto.subtle.digest('SHA-256', blockData(task.first + b, task.blockBytes) as Uint8Array<ArrayBuffer>)
      outer.update(new Uint8Array(digest))
    }
    return bytesToHex(outer.digest())
  },
  reduce (results) {
    // Pure and synchronous: the task digests in task order, joined (the order is the split's).
    return results.map(r => r.value).join('')
  }
}

export interface SleepInput { tasks: number, ms: number }

const SLEEP_MAX_MS = 3_600_000

export const sleep: Workload<SleepInput, { ms: number }, number, number> = {
  kind: 'map',
  description: '`tasks` tasks that each wait `ms` milliseconds; result: the number of tasks counted',
  validate (input) {
    const o = object(input)
    return { tasks: integer(o, 'tasks', 1, 1_000_000), ms: integer(o, 'ms', 0, SLEEP_MAX_MS) }
  },
  validateTask (task) {
    return { ms: integer(object(task), 'ms', 0, SLEEP_MAX_MS) }
  },
  split ({ tasks, ms }) {
    return Array.from({ length: tasks }, () => ({ ms }))
  },
  run (task, ctx) {
    return new Promise<number>((resolve, reject) => {
      if (ctx.signal.aborted) { reject(new Error('aborted')); return }
      const timer = setTimeout(() => { ctx.signal.removeEventListener('abort', onAbort); resolve(1) }, task.ms)
      function onAbort (): void { clearTimeout(timer); reject(new Error('aborted')) }
      ctx.signal.addEventListener('abort', onAbort, { once: true })
    })
  },
  reduce: sum
}

export interface EchoAnswer { node: string, load: number, tags: Record<string, string> }

/** Reads the 1-minute load average where the runtime has one (Node, Deno); 0 elsewhere. */
async function loadAverage (): Promise<number> {
  try {
    const os = await import('node:os')
    return os.loadavg()[0] ?? 0
  } catch {
    return 0
  }
}

export const echo: Workload<{ tags: Record<string, string> }, { tags: Record<string, string> }, EchoAnswer, Record<string, EchoAnswer>> = {
  kind: 'broadcast',
  description: 'every alive member (matching `tags`, if given) answers its name and load',
  validate (input) {
    const o = object(input ?? {})
    const tags = o.tags ?? {}
    if (tags == null || typeof tags !== 'object' || Array.isArray(tags) || Object.values(tags).some(v => typeof v !== 'string')) {
      throw new Error('tags must be an object of strings')
    }
    return { tags: tags as Record<string, string> }
  },
  // a broadcast task's input is the job's input
  validateTask (task) {
    return echo.validate(task)
  },
  async run (_input, ctx: RunContext) {
    return { node: ctx.node, load: await loadAverage(), tags: ctx.tags }
  },
  reduce (results) {
    const out: Record<string, EchoAnswer> = {}
    for (const r of results) out[r.node] = r.value
    return out
  }
}

/** The built-in registry. `exec` is not here: the agent adds it only with --allow-exec. */
export function builtinWorkloads (): Map<string, Workload> {
  return new Map<string, Workload>([['primes', primes], ['sha256', sha256], ['sleep', sleep], ['echo', echo]])
}

export type { WorkloadRegistry }
