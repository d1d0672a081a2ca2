import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { decodeWire, encodeWire, WireError, type WireMessage } from '../../gossip/work-codec.ts'
import { MAX_RESULT_BYTES, unsendable } from '../../workloads/limits.ts'
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
  { type: 'cancel', jobId: 'j1' },
  {
    type: 'snapshot', jobId: 'j1', coordinator: 'a', epoch: 1, seq: 0, replicas: ['b'], part: 0, last: false, members: ['a', 'c'], names: ['na'],
    header: { workload: 'sleep', kind: 'map', input: { tasks: 3, ms: 1 }, status: 'running', result: null, error: null, ignored: 0, duplicates: 0, taskCount: 3, deadlineMs: null, remainingMs: null },
    tasks: [[0, 2, 1, 0, 0, -1, 0, 0, 1], [1, 1, 1, 0, 0, 1, -1, -1]]
  },
  { type: 'snapshot', jobId: 'j1', coordinator: 'a', epoch: 1, seq: 0, replicas: ['b'], part: 1, last: true, members: [], names: [], tasks: [[2, 0, 0, 2, 1, -1, -1, -1, null, 'boom']] },
  {
    type: 'replicate', jobId: 'j1', coordinator: 'a', epoch: 1, seq: 3, replicas: ['b'], tasks: [{ index: 0, state: 'done', grants: 1, errors: 0, round: 1, input: 1, value: 1, doneBy: 'na', producer: 'a' }], status: 'running', result: null, error: null, ignored: 0, duplicates: 0
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
      [enc({ type: 'result', jobId: 'x'.repeat(200), epoch: 1, index: 0, ok: true }), /jobId/],
      [enc({ type: 'toString' }), /unknown message type/],
      [enc({ type: 'snapshot', jobId: 'j', coordinator: 'a', epoch: 1, seq: 0, replicas: [], part: 1, members: [], names: [], tasks: [] }), /last must be a boolean/],
      [enc({ type: 'snapshot', jobId: 'j', coordinator: 'a', epoch: 1, seq: 0, replicas: [], part: 1, last: true, members: [], names: [], tasks: [[0, 2, 1, 0, 0, -1, 3, -1]] }), /producer must index its table/],
      [enc({ type: 'snapshot', jobId: 'j', coordinator: 'a', epoch: 1, seq: 0, replicas: [], part: 1, last: true, members: [], names: [], tasks: [[0, 9, 1, 0, 0, -1, -1, -1]] }), /state out of range/],
      [enc({ type: 'snapshot', jobId: 'j', coordinator: 'a', epoch: 1, seq: 0, replicas: [], part: 0, last: true, members: [], names: [], tasks: [] }), /header comes with part 0/],
      // deeply nested values: stored and re-encoded by every lookup, they must not get in
      [new TextEncoder().encode(`{"type":"job-end","job":{"id":"j","workload":"w","kind":"map","status":"done","error":null,"coordinator":"a","epoch":1,"stats":{"tasks":1,"rerun":0,"done":1,"ignored":0,"duplicates":0,"perNode":{}},"result":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`), /result nests deeper than 32/],
      [enc({ type: 'result', jobId: 'j', epoch: 1, index: 0, ok: true, value: nested(33) }), /value nests deeper than 32/],
      [enc({ type: 'grant', jobId: 'j', epoch: 1, workload: 'w', tasks: [{ index: 0, input: nested(40) }] }), /input nests deeper than 32/]
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

/** An array nested `depth` levels deep. */
function nested (depth: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

describe('workloads limits: results that cannot travel', () => {
  it('too deep, too large or not JSON is named; an ordinary result is not', () => {
    const why = (v: unknown): string | undefined => unsendable(v, 'the result', MAX_RESULT_BYTES)
    assert.equal(why({ primes: 1270607 }), undefined)
    assert.equal(why(nested(31)), undefined)
    assert.match(why(nested(33)) ?? '', /the result nests deeper than 32/)
    assert.match(why('x'.repeat(2 * 1024 * 1024)) ?? '', /over the limit of 1048576/)
    assert.match(why(1n) ?? '', /not JSON/)
  })
})
