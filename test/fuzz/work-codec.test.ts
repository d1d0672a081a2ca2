/**
 * Fuzz of the work transport's decoder (gossip/work-codec.ts) on the
 * services' and the operators' messages (service-codec.ts, operator-codec.ts):
 * mutated bytes and mutated JSON structures either decode, and then survive
 * a round trip and the services core's `receive`, or are refused with a
 * WireError; nothing else is ever thrown.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { decodeWire, encodeWire, WireError, type WireMessage } from '../../gossip/work-codec.ts'
import { parseDefinition, ServicesNode, type ServiceMessage } from '../../services/index.ts'
import { mutate, runFuzz, type Rng } from './fuzz.ts'

const definition = parseDefinition({ name: 'cron', mode: 'replicated', replicas: 2, command: ['sleep', '1'], check: { tcp: '127.0.0.1:80' } })
const VALID: WireMessage[] = [
  { type: 'service-state', seq: 7, digest: 'ab12', exec: true, handlers: ['edge'], blocked: ['x'], load: 1.5, instances: [{ service: 'cron', instance: 'cron/3/abcdefgh', epoch: 3, state: 'running', pid: 42, since: 1, restarts: 0 }] },
  { type: 'service-defs', entries: [{ name: 'cron', version: { clock: 2, writer: 'peer-a' }, definition }, { name: 'old', version: { clock: 1, writer: 'b' }, definition: null }], reply: true },
  { type: 'service-lease', service: 'cron', epoch: 4, round: 9 },
  { type: 'service-lease-reply', service: 'cron', epoch: 4, round: 9, granted: false, maxEpoch: 3, holder: 'peer-a', retryInMs: 12 },
  { type: 'service-release', service: 'cron', epoch: 4 },
  { type: 'service-logs-query', qid: 1, service: 'cron' },
  { type: 'service-logs', qid: 1, lines: [{ at: '2026-12-03T11:00:00.000Z', stream: 'stdout', line: 'hi' }] },
  { type: 'user-event', event: { id: 'abc-1', name: 'deploy', payload: 'v42', ltime: 1, coalesce: false } },
  { type: 'user-events-ids', ids: ['abc-1', 'abc-2'] },
  { type: 'user-events', events: [{ id: 'abc-1', name: 'deploy', payload: '', ltime: 1, coalesce: true }], want: ['x-1'] },
  { type: 'query', qid: 3, name: 'uptime', payload: '', ltime: 4 },
  { type: 'query-ack', qid: 3 },
  { type: 'query-response', qid: 3, answer: 'up' }
]

const ODD: unknown[] = [null, true, -1, 0, 1.5, 2 ** 53, NaN, '', 'x'.repeat(70_000), '../etc', [], {}, [[[[[]]]]], { type: 'service-state' }, '\u0000', 'zombie']

/** A copy of `value` with one field somewhere replaced, removed or added. */
function mutateStructure (rng: Rng, value: unknown, depth = 0): unknown {
  if (value == null || typeof value !== 'object' || depth > 6 || rng.int(4) === 0) return rng.pick(ODD)
  if (Array.isArray(value)) {
    const copy = [...value]
    if (copy.length === 0 || rng.int(5) === 0) copy.push(rng.pick(ODD))
    else { const i = rng.int(copy.length); copy[i] = mutateStructure(rng, copy[i], depth + 1) }
    return copy
  }
  const copy: Record<string, unknown> = { ...value as Record<string, unknown> }
  const keys = Object.keys(copy)
  const key = rng.pick(keys)
  const roll = rng.int(6)
  if (roll === 0) delete copy[key]
  else if (roll === 1) copy[`extra${rng.int(3)}`] = rng.pick(ODD)
  else copy[key] = mutateStructure(rng, copy[key], depth + 1)
  return copy
}

describe('fuzz: the work transport decoder on service, user-event and query messages', () => {
  it('decodes or refuses with WireError; what decodes round-trips and the services core takes it', async () => {
    const corpus = VALID.map(encodeWire)
    const core = new ServicesNode({ self: { id: 'me', name: 'me', tags: {} }, now: 0, exec: true, seqBase: 0, wallTime: t => t })
    core.members(0, [{ id: 'peer-a', name: 'a', alive: true, left: false, tags: {} }], { side: 'majority', stableSize: 2 })
    let now = 0
    await runFuzz('work-codec', (rng, i) => {
      const bytes = i % 2 === 0
        ? mutate(rng, rng.pick(corpus), corpus)
        : new TextEncoder().encode(JSON.stringify(mutateStructure(rng, rng.pick(VALID))) ?? 'null')
      let msg: WireMessage
      try {
        msg = decodeWire(bytes)
      } catch (err) {
        if (!(err instanceof WireError)) throw err
        return
      }
      assert.deepEqual(decodeWire(encodeWire(msg)), msg)
      if (msg.type.startsWith('service-') && !msg.type.startsWith('service-logs')) core.receive(now += 10, 'peer-a', msg as ServiceMessage)
    })
  })
})
