/** Human-readable rendering of `agent members`. */
import type { MemberView } from './member-view.ts'

/** A plain aligned table: NAME, PEER ID, STATUS (with cause), INC, ADDRESSES, TAGS. */
export function formatMembers (members: MemberView[]): string {
  const rows = members.map(m => [
    m.name,
    m.peerId,
    m.cause != null ? `${m.status} (${m.cause})` : m.status,
    String(m.incarnation),
    m.addrs.join(','),
    Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(',')
  ])
  const header = ['NAME', 'PEER ID', 'STATUS', 'INC', 'ADDRESSES', 'TAGS']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  return [header, ...rows]
    .map(cells => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join('  ').trimEnd())
    .join('\n')
}
