/** Human-readable rendering of `agent members`. */
import type { MemberView, PathView } from './member-view.ts'

/**
 * A plain aligned table: NAME, PEER ID, STATUS (with cause, or `degraded`),
 * INC, ADDRESSES, PATHS, TAGS. PATHS lists this node's path to each address,
 * in the order of ADDRESSES: `tcp=up(0.4ms),ws=down(timeout),ws=unknown`.
 */
export function formatMembers (members: MemberView[]): string {
  const rows = members.map(m => [
    m.name,
    m.peerId,
    m.cause != null ? `${m.status} (${m.cause})` : m.degraded === true ? `${m.status} (degraded)` : m.status,
    String(m.incarnation),
    m.addrs.join(','),
    (m.paths ?? []).map(formatPath).join(',') || '-',
    Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(',')
  ])
  const header = ['NAME', 'PEER ID', 'STATUS', 'INC', 'ADDRESSES', 'PATHS', 'TAGS']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  return [header, ...rows]
    .map(cells => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join('  ').trimEnd())
    .join('\n')
}

/** `tcp=up(0.4ms)`, `ws=down(timeout)`, `ws=unknown`. */
export function formatPath (p: PathView): string {
  const detail = p.state === 'up' && p.rttMs != null
    ? `(${p.rttMs}ms)`
    : p.state === 'down' && p.lastError != null ? `(${p.lastError})` : ''
  return `${p.transport}=${p.state}${detail}`
}
