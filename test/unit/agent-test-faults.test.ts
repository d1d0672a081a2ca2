/**
 * `--test-faults` (agent/test-faults.ts): the drop list the test kit sets,
 * its validation, and the rule that only an agent whose control API is on
 * loopback takes it.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DroppedPeers, MAX_DROPPED_PEERS, routeDropFrom } from '../../agent/test-faults.ts'
import { resolveOptions } from '../../agent/config.ts'
import { HttpError } from '../../agent/http-error.ts'
import { InvalidAgentOptionError } from '../../agent/rpc-address.ts'

describe('test faults', () => {
  it('drops the listed peers, on top of the acceptFrom hook, and a new list replaces the old', () => {
    const dropped = new DroppedPeers()
    const accept = dropped.acceptFrom(peer => peer !== 'hooked')
    assert.deepEqual(['a', 'b', 'hooked'].map(accept), [true, true, false])
    assert.deepEqual(routeDropFrom(dropped, 'PUT', JSON.stringify({ peers: ['a'] })), { peers: ['a'] })
    assert.deepEqual(['a', 'b', 'hooked'].map(accept), [false, true, false])
    routeDropFrom(dropped, 'PUT', JSON.stringify({ peers: ['b'] }))
    assert.deepEqual(['a', 'b'].map(accept), [true, false])
    assert.deepEqual(routeDropFrom(dropped, 'GET', undefined), { peers: ['b'] })
  })

  it('refuses a body that is not a list of peer ids, and keeps the list it had', () => {
    const dropped = new DroppedPeers()
    routeDropFrom(dropped, 'PUT', JSON.stringify({ peers: ['a'] }))
    for (const body of ['not json', 'null', '{}', '{"peers":"a"}', '{"peers":[1]}', '{"peers":[""]}', JSON.stringify({ peers: ['x'.repeat(129)] }),
      JSON.stringify({ peers: Array.from({ length: MAX_DROPPED_PEERS + 1 }, (_, i) => `p${i}`) })]) {
      assert.throws(() => routeDropFrom(dropped, 'PUT', body), (err: unknown) => err instanceof HttpError && err.status === 400, body.slice(0, 40))
    }
    assert.deepEqual(dropped.list(), ['a'])
  })

  it('is taken only with the control API on loopback, and off by default', () => {
    assert.equal(resolveOptions({}).droppedPeers, undefined)
    assert.ok(resolveOptions({ testFaults: true, rpc: '127.0.0.1:0' }).droppedPeers instanceof DroppedPeers)
    assert.throws(() => resolveOptions({ testFaults: true, rpc: '0.0.0.0:0', rpcToken: { token: 'x'.repeat(32) } }), (err: unknown) => err instanceof InvalidAgentOptionError && /loopback/.test(err.message))
    assert.throws(() => resolveOptions({ testFaults: true, rpc: false }), /loopback/)
  })

  it('starts with the peers of testDropFrom dropped, which needs testFaults and a valid list', () => {
    const dropped = resolveOptions({ testFaults: true, rpc: '127.0.0.1:0', testDropFrom: ['b', 'a'] }).droppedPeers
    assert.deepEqual(dropped?.list(), ['b', 'a'])
    assert.equal(dropped?.acceptFrom(undefined)('a'), false)
    assert.equal(dropped?.acceptFrom(undefined)('c'), true)
    assert.throws(() => resolveOptions({ testDropFrom: ['a'] }), (err: unknown) => err instanceof InvalidAgentOptionError && /needs testFaults/.test(err.message))
    assert.throws(() => resolveOptions({ testFaults: true, rpc: '127.0.0.1:0', testDropFrom: [''] }), InvalidAgentOptionError)
    assert.throws(() => resolveOptions({ testFaults: true, rpc: '127.0.0.1:0', testDropFrom: Array(MAX_DROPPED_PEERS + 1).fill('a') }), InvalidAgentOptionError)
  })
})
