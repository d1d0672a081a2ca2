/**
 * `agent submit`, `agent jobs`, `agent job ID`, `agent job cancel ID`,
 * `agent workloads`: clients of the control API's job endpoints. Waiting polls `GET /v1/jobs/ID`; on a
 * terminal a progress bar is drawn on stderr, so stdout carries only the answer.
 */
import { readFile } from 'node:fs/promises'
import { ApiError, callApi, UnreachableAgentError, type ApiTarget } from './api-client.ts'
import { parse, UsageError } from './cli-args.ts'
import { formatJob, formatJobs } from './job-format.ts'
import type { JobView } from '../workloads/index.ts'

const POLL_MS = 200

function target (flags: Record<string, any>): ApiTarget {
  return { rpc: flags.rpc, tokenFile: flags['rpc-token'] }
}

async function readInput (value: string | undefined): Promise<unknown> {
  if (value == null) return {}
  let text = value
  if (value.startsWith('@')) {
    try {
      text = await readFile(value.slice(1), 'utf8')
    } catch (err) {
      throw new UsageError(`--input ${value}: ${(err as Error).message}`)
    }
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new UsageError(`--input is not JSON: ${(err as Error).message}`)
  }
}

const DURATION = /^(\d+)(ms|s|m|h)?$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** `--deadline`: milliseconds, or a number with ms, s, m or h. */
export function parseDuration (value: string, flag: string): number {
  const match = DURATION.exec(value.trim())
  if (match == null) throw new UsageError(`${flag} expects a duration such as 90s, 10m or 2h, got "${value}"`)
  return Number(match[1]) * UNIT_MS[match[2] ?? 'ms']
}

function progressLine (job: JobView): string {
  const width = 30
  const filled = job.stats.tasks === 0 ? width : Math.round(width * job.stats.done / job.stats.tasks)
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${job.stats.done}/${job.stats.tasks} tasks`
}

/** How long a member may answer 404 for a job it should know (it is asking the others, or the job is between coordinators). */
const NOT_FOUND_GRACE_MS = 30_000

/**
 * Polls until the job ends, on the first of `targets` that answers. When the
 * agent polled is lost, the next one follows the job (a replica finishes it);
 * with none left, the error says how to follow it elsewhere.
 */
async function waitFor (targets: ApiTarget[], id: string): Promise<JobView> {
  const bar = process.stderr.isTTY === true
  let at = 0
  let notFoundSince: number | undefined
  for (;;) {
    let job: JobView
    try {
      job = await callApi(targets[at], 'GET', `/v1/jobs/${encodeURIComponent(id)}`) as JobView
      notFoundSince = undefined
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && at > 0 && Date.now() - (notFoundSince ??= Date.now()) < NOT_FOUND_GRACE_MS) {
        await sleep(POLL_MS)
        continue
      }
      if (!(err instanceof UnreachableAgentError)) throw err
      if (bar) process.stderr.write('\n')
      const lost = targets[at].rpc ?? 'the agent'
      if (++at >= targets.length) {
        throw new Error(`lost the agent at ${lost} while waiting for job ${id}; the job goes on in the cluster if a member holds a copy: follow it with \`agent job ${id} --wait --rpc HOST:PORT\` on another member`)
      }
      process.stderr.write(`lost the agent at ${lost}; following job ${id} on ${targets[at].rpc ?? 'the next agent'}\n`)
      continue
    }
    if (bar) process.stderr.write(progressLine(job))
    if (job.status !== 'running') {
      if (bar) process.stderr.write('\n')
      return job
    }
    await sleep(POLL_MS)
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** `--rpc` given once or more (submit and job --wait follow the job on the next when one is lost). */
function targets (flags: Record<string, any>): ApiTarget[] {
  const rpcs: Array<string | undefined> = flags.rpc == null || flags.rpc.length === 0 ? [undefined] : flags.rpc
  return rpcs.map(rpc => ({ rpc, tokenFile: flags['rpc-token'] }))
}

const MANY_RPC = { rpc: { type: 'string', multiple: true } } as const

export async function submit (args: string[]): Promise<number> {
  const flags = parse(args, { ...MANY_RPC, 'rpc-token': { type: 'string' }, input: { type: 'string' }, json: { type: 'boolean' }, 'no-wait': { type: 'boolean' }, deadline: { type: 'string' } }, true)
  if (flags._.length !== 1) throw new UsageError('submit expects one WORKLOAD name')
  const input = await readInput(flags.input)
  const deadline = flags.deadline != null ? { deadlineMs: parseDuration(flags.deadline, '--deadline') } : {}
  const all = targets(flags)
  const { id, held } = await callApi(all[0], 'POST', '/v1/jobs', { workload: flags._[0], input, ...deadline }) as { id: string, held?: boolean }
  const risk = held === false ? ' (no replica holds it yet: it is lost if this agent fails now)' : ''
  if (flags['no-wait'] === true) {
    console.log(flags.json === true ? JSON.stringify({ id, held }) : id)
    if (risk !== '') process.stderr.write(`job ${id} accepted${risk}\n`)
    return 0
  }
  // At once, on stderr: whatever happens to this agent, the user has the id to follow the job with.
  process.stderr.write(`job ${id} accepted${risk}; waiting for its result (agent job ${id} --wait follows it from any member)\n`)
  const job = await waitFor(all, id)
  console.log(flags.json === true ? JSON.stringify(job, null, 2) : formatJob(job))
  return job.status === 'done' ? 0 : 1
}

export async function job (args: string[]): Promise<number> {
  const flags = parse(args, { ...MANY_RPC, 'rpc-token': { type: 'string' }, json: { type: 'boolean' }, wait: { type: 'boolean' } }, true)
  if (flags._[0] === 'cancel') return await cancel(flags)
  if (flags._.length !== 1) throw new UsageError('job expects one job ID (or: job cancel ID)')
  const id = flags._[0]
  const view = flags.wait === true ? await waitFor(targets(flags), id) : await callApi(targets(flags)[0], 'GET', `/v1/jobs/${encodeURIComponent(id)}`) as JobView
  console.log(flags.json === true ? JSON.stringify(view, null, 2) : formatJob(view))
  return 0
}

/** `agent job cancel ID`: stops the job wherever it is coordinated. */
async function cancel (flags: Record<string, any>): Promise<number> {
  if (flags._.length !== 2) throw new UsageError('job cancel expects one job ID')
  const view = await callApi(targets(flags)[0], 'DELETE', `/v1/jobs/${encodeURIComponent(flags._[1] as string)}`) as JobView
  if (flags.json === true) console.log(JSON.stringify(view, null, 2))
  else if (view.status === 'running') console.log(`job ${view.id}: cancel sent to its coordinator, not confirmed yet (see: agent job ${view.id})`)
  else console.log(formatJob(view))
  return 0
}

export async function jobs (args: string[]): Promise<number> {
  const flags = parse(args, { rpc: { type: 'string' }, 'rpc-token': { type: 'string' }, json: { type: 'boolean' } })
  const list = await callApi(target(flags), 'GET', '/v1/jobs') as JobView[]
  console.log(flags.json === true ? JSON.stringify(list, null, 2) : formatJobs(list))
  return 0
}

export async function workloads (args: string[]): Promise<number> {
  const flags = parse(args, { rpc: { type: 'string' }, 'rpc-token': { type: 'string' }, json: { type: 'boolean' } })
  const list = await callApi(target(flags), 'GET', '/v1/workloads') as Array<{ name: string, kind: string, description: string }>
  console.log(flags.json === true ? JSON.stringify(list, null, 2) : list.map(w => `${w.name.padEnd(10)} ${w.kind.padEnd(9)} ${w.description}`).join('\n'))
  return 0
}
