import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isDegraded, MAX_PATHS_PER_MEMBER, PathTable, pathKey, UP_RECHECK_FACTOR, type PathView } from '../../gossip/paths.ts'
import { hostOf, tcpPortOf, transportOf } from '../../gossip/multiaddrs.ts'
import { formatPath } from '../../agent/format.ts'

const TCP_A = '/ip4/10.77.1.13/tcp/7946'
const WS_B = '/ip4/10.77.2.13/tcp/7947/ws'
const ADDRS = [TCP_A, WS_B]

describe('gossip paths: address parsing', () => {
  it('transport, host, port and path key of multiaddr strings (table)', () => {
    const table: Array<[addr: string, transport: string, host: string | undefined, port: number | undefined]> = [
      ['/ip4/10.0.0.1/tcp/7946', 'tcp', '10.0.0.1', 7946],
      ['/ip4/10.0.0.1/tcp/7947/ws', 'ws', '10.0.0.1', 7947],
      ['/ip4/10.0.0.1/tcp/443/wss', 'wss', '10.0.0.1', 443],
      ['/ip4/10.0.0.1/tcp/443/tls/ws', 'wss', '10.0.0.1', 443],
      ['/ip6/::1/tcp/7946', 'tcp', '::1', 7946],
      ['/dns4/node.example/tcp/7946', 'tcp', 'node.example', 7946],
      ['/ip4/10.0.0.1/udp/4001/quic-v1', 'quic', '10.0.0.1', undefined],
      ['/ip4/10.0.0.1/udp/4001/webrtc-direct', 'webrtc', '10.0.0.1', undefined],
      ['/p2p-circuit', 'other', undefined, undefined]
    ]
    for (const [addr, transport, host, port] of table) {
      assert.equal(transportOf(addr), transport, addr)
      assert.equal(hostOf(addr), host, addr)
      assert.equal(tcpPortOf(addr), port, addr)
    }
  })

  it('a connection from an ephemeral port maps to the same path as the listen address on that host and transport', () => {
    assert.equal(pathKey('/ip4/10.77.1.13/tcp/53211'), pathKey(TCP_A))
    assert.equal(pathKey('/ip4/10.77.2.13/tcp/40000/ws'), pathKey(WS_B))
    assert.notEqual(pathKey('/ip4/10.77.1.13/tcp/7947/ws'), pathKey(TCP_A), 'same host, other transport: another path')
    assert.equal(pathKey('/p2p-circuit'), undefined)
  })
})

describe('gossip paths: PathTable', () => {
  it('a path nobody tried is unknown, with no RTT and no error', () => {
    const t = new PathTable()
    assert.deepEqual(t.view('p', ADDRS), [
      { addr: TCP_A, transport: 'tcp', state: 'unknown', rttMs: null, lastError: null },
      { addr: WS_B, transport: 'ws', state: 'unknown', rttMs: null, lastError: null }
    ])
  })

  it('inbound traffic over an ephemeral port marks the announced address up; an ack adds the RTT (0.1 ms resolution)', () => {
    const t = new PathTable()
    assert.equal(t.up('p', '/ip4/10.77.1.13/tcp/53211', 100), true, 'unknown -> up is a change')
    assert.equal(t.up('p', '/ip4/10.77.1.13/tcp/53211', 110, 0.4321), false, 'up -> up is not')
    const [a, b] = t.view('p', ADDRS)
    assert.deepEqual(a, { addr: TCP_A, transport: 'tcp', state: 'up', rttMs: 0.4, lastError: null })
    assert.equal(b.state, 'unknown')
  })

  it('down keeps the reason; up again keeps the last error and the last RTT', () => {
    const t = new PathTable()
    t.up('p', TCP_A, 0, 1.25)
    assert.equal(t.down('p', TCP_A, 'timeout', 10), true)
    assert.deepEqual(t.view('p', [TCP_A])[0], { addr: TCP_A, transport: 'tcp', state: 'down', rttMs: 1.3, lastError: 'timeout' })
    assert.equal(t.down('p', TCP_A, 'refused', 20), false, 'down -> down is not a change')
    assert.equal(t.view('p', [TCP_A])[0].lastError, 'refused')
    assert.equal(t.up('p', TCP_A, 30), true)
    assert.deepEqual(t.view('p', [TCP_A])[0], { addr: TCP_A, transport: 'tcp', state: 'up', rttMs: 1.3, lastError: 'refused' })
  })

  it('stateOf answers for any address on the path, connection addresses with /p2p/ included', () => {
    const t = new PathTable()
    assert.equal(t.stateOf('p', TCP_A), 'unknown')
    t.down('p', '/ip4/10.77.1.13/tcp/41686/p2p/12D3KooWEsfSeyQRsW1saRcdRYNFu6TyCG5TbuVCRAx2VFELDDjN', 'timeout', 0)
    assert.equal(t.stateOf('p', TCP_A), 'down')
    assert.equal(t.stateOf('p', WS_B), 'unknown')
  })

  it('members are independent; forget drops one member only', () => {
    const t = new PathTable()
    t.up('p', TCP_A, 0)
    t.down('q', TCP_A, 'timeout', 0)
    assert.equal(t.view('p', [TCP_A])[0].state, 'up')
    assert.equal(t.view('q', [TCP_A])[0].state, 'down')
    t.forget('p')
    assert.equal(t.view('p', [TCP_A])[0].state, 'unknown')
    assert.equal(t.view('q', [TCP_A])[0].state, 'down')
    assert.equal(t.size, 1)
  })

  it('remembers at most MAX_PATHS_PER_MEMBER paths per member, dropping the stalest', () => {
    const t = new PathTable()
    for (let i = 0; i <= MAX_PATHS_PER_MEMBER; i++) t.up('p', `/ip4/10.0.0.${i}/tcp/1`, i)
    assert.equal(t.view('p', ['/ip4/10.0.0.0/tcp/1'])[0].state, 'unknown', 'the oldest was dropped')
    assert.equal(t.view('p', [`/ip4/10.0.0.${MAX_PATHS_PER_MEMBER}/tcp/1`])[0].state, 'up')
  })
})

describe('gossip paths: which paths to test', () => {
  it('never-seen paths are due at once; fresh traffic or a running check defers a path for staleAfterMs (an up one for longer)', () => {
    const t = new PathTable()
    const members = [{ id: 'p', addrs: ADDRS }]
    assert.deepEqual(t.due(members, 0, 1000, 8), [{ id: 'p', addr: TCP_A }, { id: 'p', addr: WS_B }])
    t.up('p', TCP_A, 0) // traffic over A
    t.checking('p', WS_B, 0) // a check of B starts
    assert.deepEqual(t.due(members, 999, 1000, 8), [])
    assert.equal(t.view('p', [WS_B])[0].state, 'unknown', 'a running check claims nothing')
    assert.deepEqual(t.due(members, 1000, 1000, 8), [{ id: 'p', addr: TCP_A }, { id: 'p', addr: WS_B }])
    // another transport to a host that traffic reaches: re-tested less often
    const local = [{ id: 'q', addrs: ['/ip4/127.0.0.1/tcp/7000', '/ip4/127.0.0.1/tcp/7001/ws'] }]
    t.up('q', '/ip4/127.0.0.1/tcp/7001/ws', 0)
    t.up('q', '/ip4/127.0.0.1/tcp/7000', 1000 * UP_RECHECK_FACTOR - 500) // TCP carries the traffic
    assert.deepEqual(t.due(local, 1000 * UP_RECHECK_FACTOR - 1, 1000, 8), [], 'the silent WebSocket path to the same host waits')
    assert.deepEqual(t.due(local, 1000 * UP_RECHECK_FACTOR, 1000, 8), [{ id: 'q', addr: '/ip4/127.0.0.1/tcp/7001/ws' }])
  })

  it('the stalest paths first, at most `budget`, one check per path (two ports on one host and transport share it)', () => {
    const t = new PathTable()
    t.up('p', TCP_A, 50)
    t.up('q', TCP_A, 10)
    t.down('r', TCP_A, 'timeout', 30)
    const members = [
      { id: 'p', addrs: [TCP_A, '/ip4/10.77.1.13/tcp/8946'] },
      { id: 'q', addrs: [TCP_A] },
      { id: 'r', addrs: [TCP_A] }
    ]
    assert.deepEqual(t.due(members, 5000, 1000, 2), [{ id: 'q', addr: TCP_A }, { id: 'r', addr: TCP_A }])
    assert.deepEqual(t.due(members, 5000, 1000, 8).length, 3)
    assert.deepEqual(t.due(members, 5000, 1000, 0), [])
  })

  it('only TCP-based addresses are tested (a handshake says nothing about QUIC or WebRTC)', () => {
    const t = new PathTable()
    assert.deepEqual(t.due([{ id: 'p', addrs: ['/ip4/10.0.0.1/udp/4001/quic-v1', '/p2p-circuit', WS_B] }], 0, 1000, 8), [{ id: 'p', addr: WS_B }])
  })

  it('a down path is re-tested every staleAfterMs, so it is seen to come back', () => {
    const t = new PathTable()
    t.down('p', TCP_A, 'timeout', 0)
    assert.deepEqual(t.due([{ id: 'p', addrs: [TCP_A] }], 500, 1000, 8), [])
    assert.deepEqual(t.due([{ id: 'p', addrs: [TCP_A] }], 1000, 1000, 8), [{ id: 'p', addr: TCP_A }])
    t.checking('p', TCP_A, 1000)
    assert.equal(t.checked('p', TCP_A, 1000, 'open', 1001), true)
    assert.equal(t.view('p', [TCP_A])[0].state, 'up')
  })

  it('check results: refused and error are down with that reason; a failed check does not override traffic that arrived meanwhile', () => {
    const t = new PathTable()
    t.checking('p', TCP_A, 0)
    assert.equal(t.checked('p', TCP_A, 0, 'refused', 5), true)
    assert.deepEqual([t.view('p', [TCP_A])[0].state, t.view('p', [TCP_A])[0].lastError], ['down', 'refused'])
    t.checking('p', WS_B, 10)
    t.up('p', '/ip4/10.77.2.13/tcp/40000/ws', 20) // a frame over B while the check runs
    assert.equal(t.checked('p', WS_B, 10, 'timeout', 510), false)
    assert.equal(t.view('p', [WS_B])[0].state, 'up')
    t.checking('p', WS_B, 2000)
    assert.equal(t.checked('p', WS_B, 2000, 'error', 2500), true, 'no traffic during this check: it counts')
    assert.deepEqual([t.view('p', [WS_B])[0].state, t.view('p', [WS_B])[0].lastError], ['down', 'error'])
  })
})

describe('gossip paths: degraded and display', () => {
  const p = (state: PathView['state']): PathView => ({ addr: TCP_A, transport: 'tcp', state, rttMs: null, lastError: null })
  it('degraded only with one path down and another up (table)', () => {
    const table: Array<[states: Array<PathView['state']>, degraded: boolean]> = [
      [[], false],
      [['up'], false],
      [['down'], false],
      [['up', 'up'], false],
      [['down', 'down'], false],
      [['up', 'unknown'], false],
      [['down', 'unknown'], false],
      [['up', 'down'], true],
      [['down', 'unknown', 'up'], true]
    ]
    for (const [states, degraded] of table) assert.equal(isDegraded(states.map(p)), degraded, states.join(','))
  })

  it('the members table shows a path compactly', () => {
    assert.equal(formatPath({ addr: TCP_A, transport: 'tcp', state: 'up', rttMs: 0.4, lastError: 'timeout' }), 'tcp=up(0.4ms)')
    assert.equal(formatPath({ addr: TCP_A, transport: 'tcp', state: 'up', rttMs: null, lastError: null }), 'tcp=up')
    assert.equal(formatPath({ addr: WS_B, transport: 'ws', state: 'down', rttMs: 3, lastError: 'timeout' }), 'ws=down(timeout)')
    assert.equal(formatPath({ addr: WS_B, transport: 'ws', state: 'unknown', rttMs: null, lastError: null }), 'ws=unknown')
  })
})
