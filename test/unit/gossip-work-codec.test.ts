import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { decodeWire, encodeWire, WireError, type WireMessage } from '../../gossip/work-codec.ts'
import { seededRandom } from '../../membership/random.ts'

const valid: WireMessage[] = [
  { type: 'offer', jobId: 'j1', coordinator: 'a', epoch: 1, replicas: ['b'], workload: 'sleep', kind: 'map', tasks: [{ index: 0, round: 0 }, { index: 1, round: 2, target: 'b' }] },
  { type: 'claim', jobId: 'j1', coordinator: 'a', epoch: 1, tasks: [0, 1] },
  { type: 'grant', jobId: 'j1', epoch: 1, workload: 'sleep', tasks: [{ index: 0, input: { ms: 1 } }] },
  { type: 'result', jobId: 'j1', epoch: 1, index: 0, ok: true, value: 1 },
  { type: 'result', jobId: 'j1', epoch: 1, index: 0, ok: false, error: 'boom' },
  { type: 'result-ack', jobId: 'j1', epoch: 1, index: 0, counted: true },
  { type: 'capacity', free: 2, slots: 4 },
  { type: 'takeover', jobId: 'j1', coordinator: 'b', epoch: 2 },
  { type: 'resync', jobId: 'j1', epoch: 2 },
  { type: 'job-query', qid: 1, jobId: 'j1' },
  { type: 'job-query', qid: 2 },
  {
    type: 'replicate', jobId: 'j1', coordinator: 'a', epoch: 1, seq: 3, replicas: ['b'], full: false, tasks: [{ index: 0, state: 'done', grants: 1, errors: 0, round: 1, input: 1, value: 1, doneBy: 'na', producer: 'a' }], status: 'running', result: null, error: null, ignored: 0, duplicates: 0
  }
]

describe('work codec', () => {
  it('round-trips every valid message', () => {
    for (const msg of valid) assert.deepEqual(decodeWire(encodeWire(msg)), msg)
  })

  it('refuses bad messages with WireError naming the problem (table)', () => {
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
    const table: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array([0xff, 0xfe]), /not JSON/],
      [enc([1]), /message must be an object/],
      [enc({ type: 'nope' }), /unknown message type/],
      [enc({ type: 'claim', jobId: 'j', coordinator: 'a', epoch: 1, tasks: [-1] }), /task indices/],
      [enc({ type: 'claim', jobId: 'j', coordinator: 'a', epoch: 1.5, tasks: [] }), /epoch/],
      [enc({ type: 'offer', jobId: 'j', coordinator: 'a', epoch: 1, replicas: [], workload: 'w', kind: 'other', tasks: [] }), /kind/],
      [enc({ type: 'capacity', free: '2', slots: 4 }), /free/],
      [enc({ type: 'replicate', jobId: 'j', coordinator: 'a', epoch: 1, seq: 1, replicas: [], full: true, tasks: [], status: 'running', result: null, error: null, ignored: 0, duplicates: 0 }), /without snapshot/],
      [enc({ type: 'result', jobId: 'x'.repeat(200), epoch: 1, index: 0, ok: true }), /jobId/],
      [enc({ type: 'toString' }), /unknown message type/]
    ]
    for (const [bytes, pattern] of table) {
      assert.throws(() => decodeWire(bytes), (err: Error) => err instanceof WireError && pattern.test(err.message), pattern.source)
    }
  })

  it('mutated valid messages decode or fail with WireError, never anything else (seeded)', () => {
    const random = seededRandom(Number(process.env.FUZZ_SEED ?? 7))
    const cases = Number(process.env.FUZZ_CASES ?? 5000)
    for (let i = 0; i < cases; i++) {
      const bytes = encodeWire(valid[Math.floor(random() * valid.length)])
      const flips = 1 + Math.floor(random() * 4)
      for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256)
      try {
        decodeWire(bytes)
      } catch (err) {
        assert.ok(err instanceof WireError, `case ${i}: ${(err as Error).name}: ${(err as Error).message}`)
      }
    }
  })
})
