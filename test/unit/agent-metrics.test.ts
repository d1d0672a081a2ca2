/**
 * agent/metrics.ts on a stand-in agent: the exposition parses, carries the
 * figures the agent keeps, and per-member series go with the member.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import parsePrometheus from 'parse-prometheus-text-format'
import { metricsOf } from '../../agent/metrics.ts'
import { realTimers } from '../../agent/real-timers.ts'
import { fakeMember, fakeSource } from './metrics-fixture.ts'

describe('agent metrics', () => {
  it('exposes members, paths, counters and the probe histogram with their types', async () => {
    const source = fakeSource(5)
    const families = new Map(parsePrometheus(await (await metricsOf(source)).scrape()).map(f => [f.name, f]))
    assert.deepEqual(families.get('agent_members')?.metrics.find(m => m.labels?.status === 'alive')?.value, '5')
    assert.equal(families.get('agent_member_up')?.metrics.length, 5)
    assert.equal(families.get('agent_path_up')?.metrics.length, 8)
    assert.equal(families.get('agent_path_rtt_seconds')?.metrics.find(m => m.labels?.member === 'node-1' && m.labels.transport === 'tcp')?.value, '0.0015')
    assert.equal(families.get('agent_dropped_messages_total')?.metrics.find(m => m.labels?.reason === 'rate-limited')?.value, '6', 'frames over the rate limit and requests for the full state declined')
    assert.equal(families.get('agent_dropped_messages_total')?.metrics.find(m => m.labels?.reason === 'forged')?.value, '4')
    assert.equal(families.get('agent_jobs_total')?.type, 'COUNTER')
    assert.equal(families.get('agent_suspicions_held_total')?.metrics[0]?.value, '4')
    const probes = families.get('agent_probe_duration_seconds')
    assert.equal(probes?.type, 'HISTOGRAM')
    assert.deepEqual({ le10ms: probes?.metrics[0].buckets?.['0.01'], count: probes?.metrics[0].count, sum: probes?.metrics[0].sum }, { le10ms: '10', count: '10', sum: '0.042' })
  })

  it('a reaped member\'s series are gone at the next scrape; duplicate names are told apart', async () => {
    const source = fakeSource(4)
    const metrics = await metricsOf(source)
    source.setMembers([...source.members().slice(0, 2), { ...fakeMember(9), name: 'node-1' }])
    const families = new Map(parsePrometheus(await metrics.scrape()).map(f => [f.name, f]))
    const members = families.get('agent_member_up')?.metrics.map(m => m.labels?.member).sort()
    assert.deepEqual(members, ['node-0', `node-1@${fakeMember(1).peerId.slice(-8)}`, `node-1@${fakeMember(9).peerId.slice(-8)}`])
    assert.ok(!(families.get('agent_path_up')?.metrics ?? []).some(m => m.labels?.member === 'node-3'))
  })

  it('the event-loop delay is how late the cores\' timers fired since the last scrape', async () => {
    const metrics = await metricsOf(fakeSource(1))
    await metrics.scrape() // what came before
    let clock = 0
    const timers = realTimers(() => clock)
    await new Promise<void>(resolve => { timers.at(0, () => { resolve() }); clock = 30 }) // fired 30 ms after its time
    const families = new Map(parsePrometheus(await metrics.scrape()).map(f => [f.name, f]))
    const value = (name: string): number => Number(families.get(name)?.metrics[0].value)
    assert.equal(families.get('nodejs_eventloop_lag_p99_seconds')?.type, 'GAUGE')
    assert.ok(Math.abs(value('nodejs_eventloop_lag_max_seconds') - 0.03) < 0.001, String(value('nodejs_eventloop_lag_max_seconds')))
    const after = new Map(parsePrometheus(await metrics.scrape()).map(f => [f.name, f]))
    assert.equal(Number(after.get('nodejs_eventloop_lag_max_seconds')?.metrics[0].value), 0, 'counted once')
  })
})
