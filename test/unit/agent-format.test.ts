/** `agent members` as a table: columns, what is hidden, and the 100-column default. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { formatMembers, HIDE_GONE_AFTER_MS } from '../../agent/format.ts'
import type { MemberView } from '../../agent/member-view.ts'

const NOW = Date.parse('2026-12-03T10:00:00Z')
const PEER = '12D3KooWLruNeUVCe27v8g92PQxRd3LGdc9Xnm92aPwJQSygsCh'

function member (name: string, over: Partial<MemberView> = {}): MemberView {
  return {
    name,
    peerId: `${PEER}${name.slice(-1)}`,
    status: 'alive',
    addrs: ['/ip4/10.0.0.1/tcp/7946', '/ip4/10.0.0.1/tcp/7947/ws'],
    incarnation: 2,
    tags: { role: 'web' },
    bootId: 'b',
    statusSince: new Date(NOW - 1000).toISOString(),
    paths: [
      { addr: '/ip4/10.0.0.1/tcp/7946', transport: 'tcp', state: 'up', rttMs: 0.4, lastError: null },
      { addr: '/ip4/10.0.0.1/tcp/7947/ws', transport: 'ws', state: 'unknown', rttMs: null, lastError: null }
    ],
    degraded: false,
    ...over
  }
}

describe('agent members table', () => {
  it('has a CAUSE column, shows only tried paths, none for a member that left, and fits 100 columns', () => {
    const out = formatMembers([
      member('web-1'),
      member('web-2', { status: 'failed', cause: 'crash' }),
      member('web-3', { status: 'left', cause: 'left' }),
      member('web-4', { degraded: true })
    ], { nowMs: NOW })
    const lines = out.split('\n')
    assert.match(lines[0], /^NAME\s+ID\s+STATUS\s+CAUSE\s+ADDRESS\s+PATHS$/)
    assert.match(lines[1], /^web-1\s+\S{8}\s+alive\s+-\s+\/ip4\/10\.0\.0\.1\/tcp\/7946 \+1\s+tcp=up\(0\.4ms\)$/)
    assert.match(lines[2], /^web-2\s+\S+\s+failed\s+crash\s/)
    assert.match(lines[3], /^web-3\s+\S+\s+left\s+left\s+\S+ \+1\s+-$/)
    assert.match(lines[4], /^web-4\s+\S+\s+alive\s+degraded\s/)
    assert.doesNotMatch(out, /unknown|\(left\)/)
    for (const line of lines) assert.ok(line.length <= 100, `${line.length} columns: ${line}`)
  })

  it('hides members failed or left over an hour ago unless --all, and says so', () => {
    const old = new Date(NOW - HIDE_GONE_AFTER_MS - 1).toISOString()
    const members = [member('web-1'), member('web-2', { status: 'left', cause: 'left', statusSince: old }), member('web-3', { status: 'failed', cause: 'crash', statusSince: old })]
    const out = formatMembers(members, { nowMs: NOW })
    assert.doesNotMatch(out, /web-2|web-3/)
    assert.match(out, /\(2 members failed or left over an hour ago; --all shows them\)$/)
    assert.match(formatMembers(members, { nowMs: NOW, all: true }), /web-2[\s\S]*web-3/)
  })

  it('--wide shows the peer id, incarnation, every address and path, and tags', () => {
    const out = formatMembers([member('web-1')], { nowMs: NOW, wide: true })
    assert.match(out, /^NAME\s+PEER ID\s+STATUS\s+CAUSE\s+INC\s+ADDRESSES\s+PATHS\s+TAGS$/m)
    assert.match(out, new RegExp(`web-1\\s+${PEER}1\\s+alive\\s+-\\s+2\\s+/ip4/10\\.0\\.0\\.1/tcp/7946,/ip4/10\\.0\\.0\\.1/tcp/7947/ws\\s+tcp=up\\(0\\.4ms\\),ws=unknown\\s+role=web$`, 'm'))
  })
})
