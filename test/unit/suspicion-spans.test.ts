/** bench/suspicion-spans.ts: how long suspicions lasted, read from agents' text logs. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { describeSpans, suspicionSpans } from '../../bench/suspicion-spans.ts'

const line = (second: number, event: string, name: string): string =>
  `2026-12-06T04:00:${String(second).padStart(2, '0')}.000Z member:${event} ${name} 12D3KooWxyz suspect (unreachable)`

describe('suspicion spans', () => {
  it('pairs each suspicion with the next alive or failed of that member, per observer', () => {
    const a = [line(0, 'suspect', 's2'), line(1, 'suspect', 's2'), line(3, 'alive', 's2'), line(4, 'suspect', 's3'), line(14, 'failed', 's3'), line(20, 'suspect', 's4')].join('\n')
    const b = ['agent s9 started', line(2, 'suspect', 's2'), line(9, 'alive', 's2'), line(9, 'alive', 's5')].join('\n')
    const spans = suspicionSpans([a, b])
    assert.deepEqual(spans, { refutedMs: [3000, 7000], failed: 1, open: 1 })
    assert.equal(describeSpans(spans, 5000), '2 refuted (p50 7.0 s, p90 7.0 s, p99 7.0 s; over 5 s: 1), 1 failed, 1 open')
  })
})
