/**
 * Two members started with the same --name: a broadcast's answers and the
 * per-node counts name them apart (`name@<last 8 of the id>`), so that
 * neither one's answer overwrites the other's.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { builtinWorkloads, createWorkNode, fromPartial, type WorkEffect, type WorkNode } from '../../workloads/index.ts'
import { seededRandom } from '../../membership/random.ts'

describe('workloads: members sharing a name', () => {
  it('an echo to three members, two of them named "dup", returns three answers', () => {
    const config = fromPartial({ slots: 4 })
    const registry = builtinWorkloads()
    const names: Record<string, string> = { coordinatorAAAAAAAA: 'solo', firstDupBBBBBBBB: 'dup', secondDupCCCCCCCC: 'dup' }
    const nodes: Record<string, WorkNode> = Object.fromEntries(Object.entries(names).map(([id, name], i) =>
      [id, createWorkNode({ self: { id, name }, config, registry, random: seededRandom(i + 1) })]))
    const peers = Object.entries(names).map(([id, name]) => ({ id, name, alive: true, tags: {} }))
    const queue: Array<() => void> = []
    const now = 0
    const perform = (id: string, effects: WorkEffect[]): void => {
      for (const e of effects) {
        if (e.kind === 'run') {
          queue.push(() => { perform(id, nodes[id].taskFinished(now, e.jobId, e.index, { ok: true, value: { from: id } })) })
        } else if (e.kind === 'send' || e.kind === 'publish') {
          for (const to of e.kind === 'send' ? [e.to] : Object.keys(nodes).filter(o => o !== id)) {
            const msg = structuredClone(e.msg)
            queue.push(() => { perform(to, nodes[to].receive(now, id, msg)) })
          }
        }
      }
    }
    for (const id of Object.keys(nodes)) perform(id, nodes[id].members(0, peers))
    const { jobId, effects } = nodes.coordinatorAAAAAAAA.submit(now, 'echo', {})
    perform('coordinatorAAAAAAAA', effects)
    for (let steps = 0; queue.length > 0 && steps < 10_000; steps++) queue.shift()!()
    const job = nodes.coordinatorAAAAAAAA.job(jobId)!
    assert.equal(job.status, 'done')
    assert.deepEqual(Object.keys(job.result as object).sort(), ['dup@BBBBBBBB', 'dup@CCCCCCCC', 'solo'])
    assert.deepEqual(job.stats.perNode, { solo: 1, 'dup@BBBBBBBB': 1, 'dup@CCCCCCCC': 1 })
  })
})
