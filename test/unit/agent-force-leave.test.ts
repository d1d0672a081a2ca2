/**
 * The agent's force-leave (agent/force-leave.ts) on the membership core: by
 * name, refused for a live or unknown member, and refused on the minority
 * side of a partition.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ForceLeaveError, retireFailed } from '../../agent/force-leave.ts'
import { Wire } from './membership-harness.ts'

function cluster (ids: string[]): Wire {
  const wire = new Wire({ stableAfterMs: 1000 })
  for (const id of ids) wire.add(id)
  wire.joinAll()
  wire.advance(3000)
  return wire
}

function retire (wire: Wire, on: string, name: string): string[] {
  return retireFailed(wire.core(on), input => { wire.input(on, (_, now) => input(now)) }, name).map(m => `${m.name} ${m.status}`)
}

function refusal (fn: () => unknown): ForceLeaveError {
  try { fn() } catch (err) { if (err instanceof ForceLeaveError) return err; throw err }
  assert.fail('not refused')
}

describe('agent force-leave', () => {
  it('retires a failed member by name; a live or unknown one is refused with 409 or 404', () => {
    const wire = cluster(['a', 'b', 'c'])
    assert.equal(refusal(() => retire(wire, 'a', 'c')).status, 409)
    assert.equal(refusal(() => retire(wire, 'a', 'zed')).status, 404)
    wire.silent.add('c')
    assert.ok(wire.advanceUntil(() => wire.status('a', 'c') === 'failed', 60_000))
    const name = wire.core('a').member('c')!.name
    assert.deepEqual(retire(wire, 'a', name), [`${name} left`])
    assert.match(refusal(() => retire(wire, 'a', name)).message, /is left already/)
  })

  it('is refused on the minority side of a partition', () => {
    const wire = cluster(['a', 'b', 'c', 'd', 'e'])
    const cut = new Set(['c', 'd', 'e'])
    wire.drop = s => cut.has(s.from) !== cut.has(s.to.id ?? '')
    assert.ok(wire.advanceUntil(() => ['c', 'd', 'e'].every(id => wire.status('a', id) === 'failed') && wire.core('a').health().side === 'minority', 120_000))
    const err = refusal(() => retire(wire, 'a', wire.core('a').member('c')!.name))
    assert.equal(err.status, 409)
    assert.match(err.message, /minority side/)
  })
})
