/**
 * A stand-in for an agent as metrics.ts reads it: `n` members (the first is
 * this agent), each other one with a TCP and a WebSocket path, and the stats
 * the collectors read. For the metrics unit test and bench/metrics.ts.
 */
import type { MetricsSource } from '../../agent/metrics.ts'
import type { AgentStats } from '../../agent/agent.ts'
import type { MemberView } from '../../agent/member-view.ts'
import { newRttHistogram } from '../../gossip/rtt-histogram.ts'

export function fakeMember (i: number, status: MemberView['status'] = 'alive'): MemberView {
  const addrs = [`/ip4/10.0.${i >> 8}.${i & 255}/tcp/7946`, `/ip4/10.1.${i >> 8}.${i & 255}/tcp/7947/ws`]
  return {
    name: `node-${i}`, peerId: `12D3KooW${String(i).padStart(44, 'x')}`, status, addrs, incarnation: 1, tags: { role: i % 2 === 0 ? 'web' : 'db' }, bootId: 'b',
    statusSince: new Date(0).toISOString(), degraded: false,
    paths: i === 0 ? [] : addrs.map((addr, k) => ({ addr, transport: k === 0 ? 'tcp' : 'ws', state: 'up' as const, rttMs: 1.5 + k, lastError: null }))
  }
}

export function fakeSource (n: number): MetricsSource & { members: () => MemberView[], setMembers: (m: MemberView[]) => void } {
  let members = Array.from({ length: n }, (_, i) => fakeMember(i))
  const pingRtt = newRttHistogram()
  pingRtt.counts[3] = 10
  pingRtt.count = 10
  pingRtt.sumMs = 42
  const stats = {
    membership: { suspicionsRaised: 2, suspicionsHeld: 4, refutations: 1, signaturesRejected: 3, syncsDeclined: 2, localHealth: 0 },
    transport: {
      bytesIn: 1000, bytesOut: 2000, messagesByType: { in: { ping: 5, ack: 5 }, out: { ping: 5, ack: 5 } }, pingRtt,
      dropped: { malformed: 1, oversized: 0, unsupportedVersion: 0, sendFailed: 0, backpressure: 0, rateLimited: 4 }
    },
    work: {
      slots: { total: 4, running: 1, waiting: 0 },
      jobs: { accepted: 3, takenOver: 0, done: 2, failed: 1, cancelled: 0 },
      worker: { tasksFinished: 7, tasksAborted: 0, tasksRefused: 0, forged: {} },
      coordinator: { forged: { takeover: 1 } },
      transport: { topicIn: 1, topicOut: 2, directIn: 3, directOut: 4, dropped: { malformed: 0, oversized: 0, unsigned: 0, sendFailed: 0, backpressure: 0, rateLimited: 0 } }
    },
    security: { handshakeFailures: 0 }
  } as unknown as AgentStats
  return {
    members: () => members,
    setMembers: m => { members = m },
    stats: () => stats,
    health: () => {
      const counts = { alive: 0, suspect: 0, failed: 0, left: 0 }
      for (const m of members) counts[m.status]++
      return { side: 'majority', componentSize: counts.alive + counts.suspect, stableSize: members.length, members: counts, joined: true }
    },
    services: { list: () => [] }
  }
}
