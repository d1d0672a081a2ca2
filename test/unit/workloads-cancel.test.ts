/**
 * Stopping jobs and sharing slots (work cores, no I/O): a cancelled job ends
 * `cancelled` and its workers abort what they run; a job past its deadline
 * fails with the reason; a worker gives each free slot to the job it holds
 * the fewest tasks of, so a second job gets slots behind an endless one.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { builtinWorkloads, createWorkNode, fromPartial, type Peer, type WorkEffect, type WorkMessage, type WorkNode } from '../../workloads/index.ts'
import { seededRandom } from '../../membership/random.ts'

const config = fromPartial({ slots: 2, replicas: 0 })
const peers: Peer[] = [{ id: 'a', name: 'na', alive: true, tags: {} }]

function node (): WorkNode {
  const n = createWorkNode({ self: { id: 'a', name: 'na' }, config, registry: builtinWorkloads(), random: seededRandom(5) })
  n.members(0, peers)
  return n
}

const runs = (effects: WorkEffect[]): Array<Extract<WorkEffect, { kind: 'run' }>> => effects.filter((e): e is Extract<WorkEffect, { kind: 'run' }> => e.kind === 'run')
const published = (effects: WorkEffect[], type: WorkMessage['type']): WorkMessage[] => effects.flatMap(e => e.kind === 'publish' && e.msg.type === type ? [e.msg] : [])

describe('workloads cancel and deadline', () => {
  it('cancel ends the job `cancelled`, publishes the end and aborts its running tasks', () => {
    const n = node()
    const { jobId, effects } = n.submit(0, 'sleep', { tasks: 10, ms: 3_600_000 })
    assert.equal(runs(effects).length, 2)
    const cancelled = n.cancel(5, jobId)!
    assert.equal(n.job(jobId)?.status, 'cancelled')
    assert.equal((published(cancelled, 'job-end')[0] as Extract<WorkMessage, { type: 'job-end' }>).job.status, 'cancelled')
    assert.equal(cancelled.filter(e => e.kind === 'abort').length, 2, 'every running task of it is aborted')
    assert.equal(n.free(), 2, 'its slots are free')
    assert.equal(n.cancel(6, jobId), undefined, 'an ended job is not cancelled twice')
  })

  it('a cancel from another member is honoured by the coordinator', () => {
    const n = node()
    n.members(0, [...peers, { id: 'b', name: 'nb', alive: true, tags: {} }])
    const { jobId } = n.submit(0, 'sleep', { tasks: 3, ms: 10 })
    n.receive(1, 'b', { type: 'cancel', jobId })
    assert.equal(n.job(jobId)?.status, 'cancelled')
    assert.match(n.job(jobId)?.error ?? '', /cancelled from nb/)
  })

  it('a job past its deadline fails and says so; deadlines out of range are refused', () => {
    const n = node()
    const { jobId } = n.submit(0, 'sleep', { tasks: 4, ms: 3_600_000 }, { deadlineMs: 1000 })
    assert.ok(n.nextDeadline() <= 1000)
    n.tick(999)
    assert.equal(n.job(jobId)?.status, 'running')
    const effects = n.tick(1000)
    assert.equal(n.job(jobId)?.status, 'failed')
    assert.match(n.job(jobId)?.error ?? '', /deadline of 1000 ms passed/)
    assert.equal(effects.filter(e => e.kind === 'abort').length, 2)
    for (const deadlineMs of [0, -5, 1.5, 10 ** 12]) {
      assert.throws(() => n.submit(0, 'sleep', { tasks: 1, ms: 1 }, { deadlineMs }), /deadlineMs must be an integer/)
    }
  })
})

describe('workloads fair sharing of slots', () => {
  it('a second job gets the next free slot behind an endless one', () => {
    const n = node()
    const first = n.submit(0, 'sleep', { tasks: 100, ms: 3_600_000 })
    const firstRuns = runs(first.effects)
    assert.equal(firstRuns.length, 2, 'the endless job holds both slots')
    const second = n.submit(1, 'sleep', { tasks: 5, ms: 1 })
    assert.equal(runs(second.effects).length, 0, 'no slot is free yet')
    // one task of the endless job ends: the slot goes to the job holding none
    const next = runs(n.taskFinished(2, first.jobId, firstRuns[0].index, { ok: true, value: 1 }))
    assert.deepEqual(next.map(r => r.jobId), [second.jobId])
  })
})
