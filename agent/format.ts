/** Human-readable rendering of `agent members`. */
import type { MemberView, PathView } from './member-view.ts'

/** Members failed or left longer ago than this are hidden unless `all`. */
export const HIDE_GONE_AFTER_MS = 60 * 60 * 1000

export interface MembersFormat {
  /** Every column in full: peer id, incarnation, every address and path, tags. Default: a table that fits ~100 columns. */
  wide?: boolean
  /** Also members failed or left more than an hour ago. */
  all?: boolean
  /** Wall-clock now (tests). */
  nowMs?: number
}

/**
 * A plain aligned table. By default NAME, ID (the peer id's last 8
 * characters), STATUS, CAUSE (why it is not alive, or `degraded`), ADDRESS
 * (the first; `+N` more) and PATHS: this node's paths that were tried
 * (`tcp=up(0.4ms)`, `ws=down(timeout)`), none for a member that left. `wide`
 * adds the full peer id, INC, every address and path and the TAGS.
 */
export function formatMembers (members: MemberView[], format: MembersFormat = {}): string {
  const now = format.nowMs ?? Date.now()
  const gone = (m: MemberView): boolean => (m.status === 'failed' || m.status === 'left') && now - Date.parse(m.statusSince) > HIDE_GONE_AFTER_MS
  const shown = format.all === true ? members : members.filter(m => !gone(m))
  const table = format.wide === true ? wideRows(shown) : narrowRows(shown)
  const hidden = members.length - shown.length
  return alignTable(table) + (hidden > 0 ? `\n(${hidden} member${hidden === 1 ? '' : 's'} failed or left over an hour ago; --all shows them)` : '')
}

function cause (m: MemberView): string {
  return m.cause ?? (m.degraded ? 'degraded' : '-')
}

/** The paths worth showing: none for a member that left; only those tried, unless `wide`. */
function paths (m: MemberView, wide: boolean): string {
  if (m.status === 'left') return '-'
  return (m.paths ?? []).filter(p => wide || p.state !== 'unknown').map(formatPath).join(',') || '-'
}

function narrowRows (members: MemberView[]): string[][] {
  return [
    ['NAME', 'ID', 'STATUS', 'CAUSE', 'ADDRESS', 'PATHS'],
    ...members.map(m => [
      m.name,
      m.peerId.slice(-8),
      m.status,
      cause(m),
      m.addrs.length === 0 ? '-' : m.addrs.length === 1 ? m.addrs[0] : `${m.addrs[0]} +${m.addrs.length - 1}`,
      paths(m, false)
    ])
  ]
}

function wideRows (members: MemberView[]): string[][] {
  return [
    ['NAME', 'PEER ID', 'STATUS', 'CAUSE', 'INC', 'ADDRESSES', 'PATHS', 'TAGS'],
    ...members.map(m => [
      m.name,
      m.peerId,
      m.status,
      cause(m),
      String(m.incarnation),
      m.addrs.join(',') || '-',
      paths(m, true),
      Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(',')
    ])
  ]
}

/** Rows of cells as columns two spaces apart (the first row is the header); the last column is not padded. */
export function alignTable (rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  return rows.map(cells => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}

/** `tcp=up(0.4ms)`, `ws=down(timeout)`, `ws=unknown`. */
export function formatPath (p: PathView): string {
  const detail = p.state === 'up' && p.rttMs != null
    ? `(${p.rttMs}ms)`
    : p.state === 'down' && p.lastError != null ? `(${p.lastError})` : ''
  return `${p.transport}=${p.state}${detail}`
}
