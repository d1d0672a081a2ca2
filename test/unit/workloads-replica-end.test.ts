/**
 * A replica whose record is behind when the job ends (deltas lost to the
 * inbound rate limit or backpressure, or a snapshot still arriving in parts)
 * must not present that record as the ended job: after the coordinator's
 * `job-end` it reports the coordinator's final view, stats included.
 * (test/integration/million.test.ts read `stats.done` 165,598 of 1,000,000
 * from such a replica.)
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { builtinWorkloads, createWorkNode, fromPartial, type WorkEffect, type WorkNode } from '../../workloads/index.ts'
import { seededRandom } from '../../membership/random.ts'

describe('workloads: a replica behind when the job ends', () => {
  it('reports the coordinator\'s final view after job-end, not its own stale tasks', () => {
    const config = fromPartial({ slots: 8, snapshotMinIntervalMs: 60_000 })
    const registry = builtinWorkloads()
    const nodes: Record<string, WorkNode> = {
      p: createWorkNode({ self: { id: 'p', name: 'p' }, config, registry, random: seededRandom(1) }),
      r: createWorkNode({ self: { id: 'r', name: 'r' }, config, registry, random: seededRandom(2) })
    }
    const peers = Object.keys(nodes).map(id => ({ id, name: id, alive: true, tags: {} }))
    const queue: Array<() => void> = []
    let deltasToReplica = 0
    let now = 0
    const perform = (id: string, effects: WorkEffect[]): void => {
      for (const e of effects) {
        if (e.kind === 'run') {
          queue.push(() => { perform(id, nodes[id].taskFinished(now, e.jobId, e.index, { ok: true, value: 1 })) })
        } else if (e.kind === 'send' || e.kind === 'publish') {
          for (const to of e.kind === 'send' ? [e.to] : Object.keys(nodes).filter(o => o !== id)) {
            // the replica keeps up at first, then misses every delta (its resync waits for snapshotMinIntervalMs)
            if (e.msg.type === 'replicate' && to === 'r' && ++deltasToReplica > 5) continue
            const msg = structuredClone(e.msg)
            queue.push(() => { perform(to, nodes[to].receive(now, id, msg)) })
          }
        }
      }
    }
    for (const id of Object.keys(nodes)) perform(id, nodes[id].members(0, peers))
    const { jobId, effects } = nodes.p.submit(now, 'sleep', { tasks: 100, ms: 0 })
    perform('p', effects)
    while (nodes.p.job(jobId)!.status === 'running' && now < 60_000) {
      while (queue.length > 0) queue.shift()!()
      now += 10
      for (const id of Object.keys(nodes)) perform(id, nodes[id].tick(now))
    }
    while (queue.length > 0) queue.shift()!()
    const coordinator = nodes.p.job(jobId)!
    assert.equal(coordinator.status, 'done')
    assert.equal(coordinator.stats.done, 100)
    const replica = nodes.r.job(jobId)!
    assert.equal(replica.status, 'done')
    assert.equal(replica.result, 100)
    assert.equal(replica.stats.done, 100, 'the replica reports the job as its coordinator ended it')
  })
})
