/**
 * `exec`: a broadcast that runs one shell command on every alive member
 * (matching `tags`, if given) and collects each node's exit code and output,
 * like `serf query` with a handler. It exists only on agents started with
 * `--allow-exec`: anyone who can reach the control API of such an agent can
 * run commands on every member that also allows it. Members without it answer
 * `{ error: "exec is not enabled on this node" }`.
 */
import { spawn } from 'node:child_process'
import type { Workload } from '../workloads/index.ts'

export interface ExecInput { command: string, timeoutMs: number, tags: Record<string, string> }
export interface ExecAnswer { code: number | null, signal: string | null, stdout: string, stderr: string, truncated: boolean }

/** Output kept per stream: answers travel in one message. */
const MAX_OUTPUT_CHARS = 16 * 1024

export const exec: Workload<ExecInput, ExecInput, ExecAnswer, Record<string, ExecAnswer>> = {
  kind: 'broadcast',
  description: 'run `command` with /bin/sh on every alive member (matching `tags`); needs --allow-exec',
  validate (input) {
    if (input == null || typeof input !== 'object' || Array.isArray(input)) throw new Error('input must be a JSON object')
    const o = input as Record<string, unknown>
    if (typeof o.command !== 'string' || o.command.trim() === '' || o.command.length > 4096) throw new Error('command must be a non-empty string of at most 4096 chars')
    const timeoutMs = o.timeoutMs ?? 10_000
    if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) throw new Error('timeoutMs must be an integer in [1, 600000]')
    const tags = o.tags ?? {}
    if (tags == null || typeof tags !== 'object' || Array.isArray(tags) || Object.values(tags).some(v => typeof v !== 'string')) {
      throw new Error('tags must be an object of strings')
    }
    return { command: o.command, timeoutMs, tags: tags as Record<string, string> }
  },
  // a broadcast task's input is the job's input
  validateTask (task) {
    return exec.validate(task)
  },
  async run (input, ctx) {
    return await new Promise<ExecAnswer>((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', input.command], { stdio: ['ignore', 'pipe', 'pipe'], signal: ctx.signal, timeout: input.timeoutMs })
      let stdout = ''
      let stderr = ''
      let truncated = false
      const keep = (acc: string, chunk: Buffer): string => {
        if (acc.length >= MAX_OUTPUT_CHARS) { truncated = true; return acc }
        const next = acc + chunk.toString('utf8')
        if (next.length > MAX_OUTPUT_CHARS) truncated = true
        return next.slice(0, MAX_OUTPUT_CHARS)
      }
      child.stdout.on('data', (c: Buffer) => { stdout = keep(stdout, c) })
      child.stderr.on('data', (c: Buffer) => { stderr = keep(stderr, c) })
      child.on('error', (err) => { if (ctx.signal.aborted) reject(new Error('aborted')); else reject(err) })
      child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr, truncated }) })
    })
  },
  reduce (results) {
    const out: Record<string, ExecAnswer> = {}
    for (const r of results) out[r.node] = r.value
    return out
  }
}
