/**
 * A node's free slots (workloads/capacity.ts): published when they change, at
 * most once per capacityIntervalMs, and an idle node sets no timer for them.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CapacityBook } from '../../workloads/capacity.ts'
import { builtinWorkloads, createWorkNode, fromPartial } from '../../workloads/index.ts'
import { seededRandom } from '../../membership/random.ts'

describe('workloads: capacity', () => {
  it('is due only while the free slots differ from what was published, and at most once an interval', () => {
    const book = new CapacityBook(fromPartial({ slots: 2, capacityIntervalMs: 1000 }))
    assert.equal(book.dueAt(2), -Infinity, 'nothing published yet')
    assert.deepEqual(book.publish(0, () => 2), { type: 'capacity', free: 2, slots: 2 })
    assert.equal(book.dueAt(2), Infinity, 'unchanged: nothing to wake up for')
    assert.equal(book.dueAt(1), 1000, 'changed: at the end of the interval')
    assert.equal(book.publish(500, () => 1), undefined, 'not within the interval')
    assert.deepEqual(book.publish(1000, () => 1), { type: 'capacity', free: 1, slots: 2 })
  })

  it('an idle work node has no deadline once it published its slots', () => {
    const node = createWorkNode({ self: { id: 'a', name: 'a' }, config: fromPartial({ slots: 2 }), registry: builtinWorkloads(), random: seededRandom(1) })
    node.tick(0)
    assert.equal(node.nextDeadline(), Infinity)
  })
})
