import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { decodeWire, encodeWire, WireError, type WireMessage } from '../../gossip/work-codec.ts'
import { parseDefinition } from '../../services/index.ts'

const definition = parseDefinition({ name: 'cron', mode: 'singleton', command: ['sleep', '1'] })
const instance = { service: 'cron', instance: 'cron/3/abcdefgh', epoch: 3, state: 'running', pid: 42, since: 1_796_000_000_000, restarts: 0 }

const valid: WireMessage[] = [
  { type: 'service-state', seq: 7, digest: 'ab12', exec: true, handlers: ['edge'], blocked: [], load: 1, instances: [instance as never] },
  { type: 'service-state', seq: 0, digest: '', exec: false, handlers: [], blocked: [], load: 0, instances: [] },
  { type: 'service-defs', entries: [{ name: 'cron', version: { clock: 2, writer: 'peer-a' }, definition }, { name: 'old', version: { clock: 1, writer: 'peer-b' }, definition: null }], reply: true },
  { type: 'service-lease', service: 'cron', epoch: 4, round: 9 },
  { type: 'service-lease-reply', service: 'cron', epoch: 4, round: 9, granted: false, maxEpoch: 3, holder: 'peer-a', retryInMs: 120.5 },
  { type: 'service-release', service: 'cron', epoch: 4 },
  { type: 'service-logs-query', qid: 1, service: 'cron' },
  { type: 'service-logs', qid: 1, lines: [{ at: '2026-12-03T11:00:00.000Z', stream: 'stderr', line: 'hello' }] }
]

describe('services on the wire: valid messages round-trip, bad ones are refused naming the field', () => {
  it('round-trips every message type', () => {
    for (const msg of valid) assert.deepEqual(decodeWire(encodeWire(msg)), msg)
  })

  it('refuses malformed messages with a WireError (table)', () => {
    const bad = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o))
    const table: Array<[unknown, RegExp]> = [
      [{ ...valid[0], seq: -1 }, /seq must be an integer/],
      [{ ...valid[0], exec: 'yes' }, /exec must be a boolean/],
      [{ ...valid[0], instances: [{ ...instance, state: 'zombie' }] }, /state must be one of/],
      [{ ...valid[0], instances: [{ ...instance, service: '../etc' }] }, /service must be a service name/],
      [{ ...valid[0], handlers: new Array(2000).fill('x') }, /handlers must be an array of at most/],
      [{ type: 'service-defs', entries: [{ name: 'cron', version: { clock: 1, writer: 'a' }, definition: { name: 'cron', mode: 'leader' } }], reply: false }, /mode must be/],
      [{ type: 'service-defs', entries: [{ name: 'cron', version: { clock: 1, writer: 'a' }, definition: { ...definition, name: 'other' } }], reply: false }, /its entry's name/],
      [{ type: 'service-defs', entries: [{ name: 'cron', version: { clock: -1, writer: 'a' }, definition: null }], reply: false }, /clock must be/],
      [{ type: 'service-lease', service: 'cron', epoch: 1.5, round: 1 }, /epoch must be an integer/],
      [{ ...valid[4], retryInMs: -5 }, /retryInMs/],
      [{ type: 'service-release', service: 'cron' }, /epoch must be/],
      [{ type: 'service-logs', qid: 1, lines: [{ at: 'now', stream: 'stdin', line: '' }] }, /stream must be/],
      [{ type: 'service-logs', qid: 1, lines: [{ at: 'now', stream: 'stdout', line: 'x'.repeat(5000) }] }, /line must be a string of at most/]
    ]
    for (const [input, pattern] of table) {
      assert.throws(() => decodeWire(bad(input)), (err: Error) => err instanceof WireError && pattern.test(err.message), String(pattern))
    }
  })
})
