/**
 * The agent's derived member signals (agent/member-signals.ts): silent paths
 * of multi-homed members are tested every half probe period, and no timer
 * runs while no member is multi-homed.
 */
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import assert from 'node:assert/strict'
import { MemberSignals } from '../../agent/member-signals.ts'
import type { Member, Membership } from '../../membership/index.ts'
import type { MemberView } from '../../agent/member-view.ts'

const ONE_NETWORK = ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws']
const TWO_NETWORKS = ['/ip4/10.0.1.2/tcp/4001', '/ip4/10.0.2.2/tcp/4001']

function member (id: string, addrs: string[]): Member {
  return { id, name: id, addrs, status: 'alive', incarnation: 0, tags: {} } as unknown as Member
}

describe('MemberSignals path checks', () => {
  beforeEach(() => { mock.timers.enable({ apis: ['setInterval'] }) })
  afterEach(() => { mock.timers.reset() })

  it('test the paths of multi-homed members, and run no timer while there are none', () => {
    const armed = mock.method(globalThis, 'setInterval')
    const cleared = mock.method(globalThis, 'clearInterval')
    const timers = (): number => armed.mock.callCount() - cleared.mock.callCount()
    const members = new Map<string, Member>()
    const core = { member: (id: string) => members.get(id) } as unknown as Membership
    const checked: string[][] = []
    const signals = new MemberSignals(() => {})
    const stop = signals.checkPathsEvery(1000, 500, core, { checkPaths: live => { checked.push(live.map(m => m.id)) } })
    const event = (type: string, m: Member): void => {
      members.set(m.id, m)
      signals.memberEvent(type, m, { peerId: m.id } as unknown as MemberView)
    }

    event('member:join', member('a', ONE_NETWORK))
    mock.timers.tick(5000)
    assert.deepEqual(checked, [], 'one network: nothing to test')
    assert.equal(timers(), 0, 'and no timer')

    event('member:join', member('b', TWO_NETWORKS))
    mock.timers.tick(500)
    assert.deepEqual(checked, [['b']], 'tested half a probe period later')

    event('member:reap', member('b', TWO_NETWORKS))
    mock.timers.tick(5000)
    assert.deepEqual(checked, [['b']], 'none multi-homed any more')
    assert.equal(timers(), 0, 'the timer stopped')

    event('member:update', member('a', TWO_NETWORKS))
    mock.timers.tick(500)
    assert.deepEqual(checked, [['b'], ['a']])
    stop()
    mock.timers.tick(5000)
    assert.deepEqual(checked, [['b'], ['a']], 'stopped')
  })
})
