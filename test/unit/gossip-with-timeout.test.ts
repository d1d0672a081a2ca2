/** gossip/with-timeout.ts: the one bounded wait (no wall-clock bound asserted: only which side wins). */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { withTimeout } from '../../gossip/with-timeout.ts'

const never = new Promise<never>(() => {})

describe('withTimeout', () => {
  it('gives the promise\'s value when it settles first', async () => {
    assert.equal(await withTimeout(Promise.resolve(7), 60_000), 7)
    await assert.rejects(withTimeout(Promise.reject(new Error('boom')), 60_000), /boom/)
  })

  it('gives late()\'s value, or its error, when the time runs out first', async () => {
    assert.equal(await withTimeout(never, 0), undefined)
    assert.equal(await withTimeout(never, 0, () => 'late'), 'late')
    await assert.rejects(withTimeout(never, 0, () => { throw new Error('too late') }), /too late/)
  })

  it('leaves no unhandled rejection when the promise fails after the time ran out', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (err: unknown): void => { unhandled.push(err) }
    process.on('unhandledRejection', onUnhandled)
    try {
      let fail: (err: Error) => void = () => {}
      const p = new Promise<never>((_resolve, reject) => { fail = reject })
      assert.equal(await withTimeout(p, 0), undefined)
      fail(new Error('late failure'))
      await new Promise(resolve => setImmediate(resolve))
      assert.deepEqual(unhandled, [])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})
