/**
 * A suspicion of a newer incarnation than the one a node suspects means the
 * member refuted (only it raises its incarnation) and was accused again
 * before its refutation reached this node: a sender's queue keeps one update
 * per member, so the new accusation can overtake the refutation. Seen in a
 * 50-agent start: an observer's old timer ran on and failed the new
 * incarnation 7 s after its first suspicion, and a member that had heard the
 * refutation took that verdict 3 s into its own second suspicion. The new
 * suspicion gets a timer of its own, from when it arrived.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Wire } from './membership-harness.ts'

const IDS = ['a', 'b', 'c', 'd', 'e', 'f']
/** No confirmations awaited (suspicionMult 2): a fails a member at the minimum timeout, 2 s; no hold for slow refutations. */
const MIN_MS = 2000

describe('membership core: a suspicion of a newer incarnation', () => {
  it('starts a timer of its own: the member is failed a minimum timeout after it, not after the first', () => {
    const wire = new Wire({ suspicionMult: 2, suspicionRefutationMult: 0 })
    for (const id of IDS) wire.add(id)
    wire.joinAll()
    // Only a runs from here: what it hears about f is what it is sent below.
    for (const id of IDS) if (id !== 'a') wire.silent.add(id)
    const first = wire.now
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [{ type: 'suspect', id: 'f', incarnation: 0, from: 'b' }] }))
    assert.equal(wire.status('a', 'f'), 'suspect')
    wire.advance(1500)
    const second = wire.now
    wire.input('a', (core, now) => core.receive(now, 'c', { type: 'gossip', updates: [{ type: 'suspect', id: 'f', incarnation: 1, from: 'c' }] }))
    assert.ok(wire.advanceUntil(() => wire.status('a', 'f') === 'failed', 30_000), 'a fails f')
    const failedAt = wire.now
    assert.ok(failedAt >= second + MIN_MS - 10, `failed ${failedAt - first} ms after the first suspicion, ${failedAt - second} ms after the second`)
    assert.ok(failedAt <= second + MIN_MS + 100, `failed ${failedAt - second} ms after the second suspicion`)
    assert.equal(wire.eventsOf('a', 'member:failed', 'f').at(-1)?.member.incarnation, 1, 'the verdict is on the incarnation suspected second')
  })

  it('counts the refutation it implies, as a refutation heard directly would: the next verdict waits three times as long', () => {
    const wire = new Wire({ suspicionMult: 2 })
    for (const id of IDS) wire.add(id)
    wire.joinAll()
    for (const id of IDS) if (id !== 'a') wire.silent.add(id)
    wire.input('a', (core, now) => core.receive(now, 'b', { type: 'gossip', updates: [{ type: 'suspect', id: 'f', incarnation: 0, from: 'b' }] }))
    wire.advance(1500)
    const second = wire.now
    wire.input('a', (core, now) => core.receive(now, 'c', { type: 'gossip', updates: [{ type: 'suspect', id: 'f', incarnation: 1, from: 'c' }] }))
    assert.ok(wire.advanceUntil(() => wire.status('a', 'f') === 'failed', 30_000), 'a fails f')
    assert.ok(wire.now >= second + 3 * 1500 - 10, `failed ${wire.now - second} ms after the second suspicion`)
  })
})
