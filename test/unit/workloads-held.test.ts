/**
 * "Accepted" means the job survives its coordinator: the coordinator reports
 * a job `held` once a replica acknowledged its whole record (or when there is
 * no other member to hold one), and the agent answers a submit only then.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { builtinWorkloads, createWorkNode, fromPartial, type WorkEffect, type WorkNode } from '../../workloads/index.ts'
import { seededRandom } from '../../membership/random.ts'

const config = fromPartial({ slots: 2 })
const held = (effects: WorkEffect[]): string[] => effects.flatMap(e => e.kind === 'held' ? [e.jobId] : [])

function nodes (ids: string[]): Record<string, WorkNode> {
  const all = Object.fromEntries(ids.map((id, i) => [id, createWorkNode({ self: { id, name: id }, config, registry: builtinWorkloads(), random: seededRandom(i + 1) })]))
  for (const node of Object.values(all)) node.members(0, ids.map(id => ({ id, name: id, alive: true, tags: {} })))
  return all
}

describe('workloads: a submitted job is held', () => {
  it('by a replica: not before its acknowledgement, once after it', () => {
    const { a, b } = nodes(['a', 'b'])
    const { jobId, effects } = a.submit(0, 'sleep', { tasks: 3, ms: 1 })
    assert.deepEqual(held(effects), [], 'not held before a replica has the record')
    const snapshots = effects.flatMap(e => e.kind === 'send' && e.to === 'b' && e.msg.type === 'snapshot' ? [e.msg] : [])
    assert.equal(snapshots.length, 1)
    const acks = b.receive(1, 'a', structuredClone(snapshots[0])).flatMap(e => e.kind === 'send' && e.msg.type === 'held' ? [e] : [])
    assert.deepEqual(acks.map(e => e.kind === 'send' ? [e.to, e.msg] : []), [['a', { type: 'held', jobId, epoch: 1 }]])
    const ack = acks[0].kind === 'send' ? acks[0].msg : undefined
    assert.deepEqual(held(a.receive(2, 'b', ack!)), [jobId])
    assert.deepEqual(held(a.receive(3, 'b', ack!)), [], 'once')
  })

  it('an acknowledgement from a member that is not the job\'s replica, or of another epoch, counts for nothing', () => {
    const { a } = nodes(['a', 'b', 'c'])
    const { jobId, effects } = a.submit(0, 'sleep', { tasks: 3, ms: 1 })
    const replicas = new Set(effects.flatMap(e => e.kind === 'send' && e.msg.type === 'snapshot' ? [e.to] : []))
    const stranger = ['b', 'c'].find(id => !replicas.has(id))
    if (stranger != null) assert.deepEqual(held(a.receive(1, stranger, { type: 'held', jobId, epoch: 1 })), [])
    const replica = [...replicas][0]
    assert.deepEqual(held(a.receive(1, replica, { type: 'held', jobId, epoch: 2 })), [])
    assert.deepEqual(held(a.receive(1, replica, { type: 'held', jobId, epoch: 1 })), [jobId])
  })

  it('at once when no other member could hold it', () => {
    const { solo } = nodes(['solo'])
    const { jobId, effects } = solo.submit(0, 'sleep', { tasks: 3, ms: 1 })
    assert.deepEqual(held(effects), [jobId])
  })
})
