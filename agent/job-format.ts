/** Human-readable rendering of `agent job` and `agent jobs`. */
import type { JobView } from '../workloads/index.ts'
import { alignTable } from './format.ts'

function seconds (ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 60_000).toFixed(1)} min`
}

/** `done in 2.3 s`, `running for 5 s`, or the bare status when the times are unknown (an older agent's view). */
function statusLine (job: JobView, nowMs: number): string {
  if (job.status !== 'running') return job.durationMs != null ? `${job.status} in ${seconds(job.durationMs)}` : job.status
  return job.createdAt != null ? `running for ${seconds(Math.max(0, nowMs - Date.parse(job.createdAt)))}` : 'running'
}

const indent = (text: string, by: string): string => text.split('\n').map(line => `${by}${line}`).join('\n')

interface ExecAnswer { code: number | null, signal: string | null, stdout: string, stderr: string, truncated: boolean }

function isExecAnswer (v: unknown): v is ExecAnswer {
  return v != null && typeof v === 'object' && typeof (v as ExecAnswer).stdout === 'string' && typeof (v as ExecAnswer).stderr === 'string'
}

/** A broadcast's answers one member a line; an exec answer's output below it, indented. */
function formatAnswers (result: Record<string, unknown>): string {
  return Object.entries(result).sort(([a], [b]) => a.localeCompare(b)).map(([member, answer]) => {
    if (!isExecAnswer(answer)) return `    ${member}: ${JSON.stringify(answer)}`
    const head = `    ${member}: ${answer.signal != null ? `killed by ${answer.signal}` : `exit ${String(answer.code)}`}${answer.truncated ? ' (output truncated)' : ''}`
    const out = answer.stdout.trimEnd() === '' ? [] : [indent(answer.stdout.trimEnd(), '      ')]
    const err = answer.stderr.trimEnd() === '' ? [] : [`      stderr:`, indent(answer.stderr.trimEnd(), '        ')]
    return [head, ...out, ...err].join('\n')
  }).join('\n')
}

export function formatJob (job: JobView, nowMs = Date.now()): string {
  const lines = [`job ${job.id} (${job.workload}) ${statusLine(job, nowMs)}`]
  if (job.createdAt != null) lines.push(`  created: ${job.createdAt}`)
  if (job.epoch > 1) lines.push(`  coordinator: ${job.coordinator} (epoch ${job.epoch}: took the job over from a failed coordinator)`)
  lines.push(
    `  tasks: ${job.stats.done}/${job.stats.tasks} counted, ${job.stats.rerun} re-run`,
    `  per node: ${Object.entries(job.stats.perNode).sort(([a], [b]) => a.localeCompare(b)).map(([n, c]) => `${n}=${c}`).join(' ') || '-'}`
  )
  if (job.error != null) lines.push(`  error: ${job.error}`)
  if (job.status === 'done') {
    const answers = job.kind === 'broadcast' && job.result != null && typeof job.result === 'object' && !Array.isArray(job.result)
    lines.push(answers ? `  result:\n${formatAnswers(job.result as Record<string, unknown>)}` : `  result: ${JSON.stringify(job.result)}`)
  }
  return lines.join('\n')
}

/** `agent jobs`: one line a job, with when it was submitted and how long it ran. */
export function formatJobs (list: JobView[], nowMs = Date.now()): string {
  if (list.length === 0) return 'no jobs'
  const rows = [['ID', 'WORKLOAD', 'STATUS', 'TASKS', 'RERUN', 'CREATED', 'DURATION'], ...list.map(j => [
    j.id, j.workload, j.status, `${j.stats.done}/${j.stats.tasks}`, String(j.stats.rerun),
    j.createdAt ?? '-',
    j.durationMs != null ? seconds(j.durationMs) : j.createdAt != null && j.status === 'running' ? `${seconds(Math.max(0, nowMs - Date.parse(j.createdAt)))}…` : '-'
  ])]
  return alignTable(rows)
}
