import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { USER_EVENT_LIMITS, UserEventLog } from '../../agent/user-event-log.ts'

describe('the user event log', () => {
  it('dedupes by id, keeps a Lamport clock, and tells two members what each lacks', () => {
    const a = new UserEventLog()
    const b = new UserEventLog()
    const e1 = a.create(0, 'peer-aaaaaaaaaaaa', 'deploy', 'v1', false)
    const e2 = a.create(1, 'peer-aaaaaaaaaaaa', 'deploy', 'v2', false)
    assert.equal(e2.ltime, 2)
    assert.equal(b.receive(2, e2), true)
    assert.equal(b.receive(3, e2), false, 'delivered once')
    assert.equal(b.ltime, 2)
    const e3 = b.create(4, 'peer-bbbbbbbbbbbb', 'restart', '', true)
    assert.equal(e3.ltime, 3, 'above every time seen')
    // anti-entropy: a sends its ids; b answers with what a lacks and asks for what it lacks
    assert.deepEqual(b.missingFrom(5, a.ids(5)).map(e => e.id), [e3.id])
    assert.deepEqual(b.unknown(a.ids(5)), [e1.id])
    assert.deepEqual(a.withIds([e1.id]).map(e => e.payload), ['v1'])
  })

  it('forgets events past its window, but not that it delivered them (a restart remembers the ids)', () => {
    const a = new UserEventLog()
    const e = a.create(0, 'peer-a', 'x', '', false)
    assert.deepEqual(a.ids(USER_EVENT_LIMITS.keepMs + 1), [])
    const restarted = new UserEventLog(a.persisted())
    assert.equal(restarted.receive(0, e), false, 'not delivered again after a restart')
    assert.equal(restarted.ltime, 1)
  })
})
