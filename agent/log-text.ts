/**
 * Readable lines for log records (`--log-format text`, the default on a
 * terminal, and `agent monitor` without --json): the lines the agent has
 * always printed, one per record.
 */
import type { LogRecord } from './log.ts'

const OWN = new Set(['level', 'time', 'msg', 'event'])

export function formatText (r: LogRecord): string {
  const at = new Date(r.time).toISOString()
  const f = r as Record<string, any>
  switch (r.event) {
    case 'agent:started':
      return [`agent ${f.member} started`, `  peer id:  ${f.peerId}`, ...(f.listen as string[]).map(a => `  listen:   ${a}`),
        ...(f.control != null ? [`  control:  ${f.control}`] : []), `  profile:  ${f.profile}${f.joining?.length > 0 ? `, joining ${f.joining.join(', ')}` : ''}`].join('\n')
    case 'join:failed':
      return `join: ${f.error} (attempt ${f.attempt}), retrying in ${seconds(f.retryInMs)}`
    case 'join:done':
      return `${at} joined the cluster through ${f.via}`
    case 'partition:detected':
    case 'partition:healed':
      return `${at} ${r.event} side ${f.side} (${f.componentSize} of ${f.stableSize} stable) members ${f.members.length > 0 ? f.members.join(',') : '-'}`
    case 'service:started':
    case 'service:stopped':
    case 'service:moved':
    case 'service:failed':
      return `${at} ${r.event} ${f.instance} epoch ${f.epoch}${f.from != null ? ` from ${f.from}` : ''}${f.reason != null ? `: ${f.reason}` : ''}`
  }
  if (typeof r.event === 'string' && (r.event.startsWith('member:') || r.event === 'path:changed')) {
    return `${at} ${r.event} ${f.member} ${f.peerId} ${f.status}${f.cause != null ? ` (${f.cause})` : ''}${f.path != null ? ` path ${f.path}` : ''}`
  }
  if (r.level === 'warn' || r.level === 'error') return `agent: ${r.msg}`
  const rest = Object.entries(r).filter(([k, v]) => !OWN.has(k) && v != null).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  return `${at} ${r.level === 'info' ? '' : `${r.level} `}${r.msg}${rest.length > 0 ? ` ${rest.join(' ')}` : ''}`
}

function seconds (ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 100) / 10} s`
}
