/**
 * The agent's log (agent/log.ts, log-text.ts): levels for the sink and each
 * listener, nothing built that nobody wants, and the readable lines the
 * agent has always printed.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AgentLog, type LogRecord } from '../../agent/log.ts'
import { formatText } from '../../agent/log-text.ts'

describe('agent log', () => {
  it('the sink gets its level and above; a listener its own; wants() says whether anyone listens', () => {
    const sunk: LogRecord[] = []
    const log = new AgentLog({ level: 'warn', write: r => sunk.push(r) })
    assert.equal(log.wants('info'), false)
    log.info('quiet')
    log.warn('loud', { member: 'n1' })
    assert.deepEqual(sunk.map(r => [r.level, r.msg, r.member]), [['warn', 'loud', 'n1']])
    const heard: string[] = []
    const off = log.subscribe('debug', r => heard.push(r.msg))
    assert.equal(log.wants('debug'), true)
    log.debug('detail')
    off()
    log.debug('after')
    assert.deepEqual(heard, ['detail'])
    assert.equal(log.wants('debug'), false)
    assert.equal(sunk.length, 1)
  })

  it('a throwing sink or listener does not reach the caller', () => {
    const log = new AgentLog({ level: 'info', write: () => { throw new Error('EPIPE') } })
    log.subscribe('info', () => { throw new Error('listener') })
    assert.doesNotThrow(() => { log.info('x') })
  })

  it('renders member, partition and start records as the lines the agent prints', () => {
    const time = Date.parse('2026-12-03T10:00:00.000Z')
    assert.equal(formatText({ level: 'info', time, msg: 'member:failed', event: 'member:failed', member: 'n3', peerId: 'P3', status: 'failed', cause: 'crash' }),
      '2026-12-03T10:00:00.000Z member:failed n3 P3 failed (crash)')
    assert.equal(formatText({ level: 'info', time, msg: 'partition:detected', event: 'partition:detected', side: 'minority', componentSize: 2, stableSize: 5, members: ['a', 'b'] }),
      '2026-12-03T10:00:00.000Z partition:detected side minority (2 of 5 stable) members a,b')
    assert.match(formatText({ level: 'info', time, msg: 'agent n1 started', event: 'agent:started', member: 'n1', peerId: 'P1', listen: ['/ip4/127.0.0.1/tcp/1'], control: 'http://127.0.0.1:2', profile: 'lan', joining: [] }),
      /^agent n1 started\n {2}peer id: {2}P1\n {2}listen: {3}\/ip4\/127\.0\.0\.1\/tcp\/1\n {2}control: {2}http:\/\/127\.0\.0\.1:2\n {2}profile: {2}lan$/)
    assert.equal(formatText({ level: 'warn', time, msg: 'warning: no cluster key' }), 'agent: warning: no cluster key')
    assert.equal(formatText({ level: 'info', time, msg: 'job:done', job: 'j1', tasks: 3 }), '2026-12-03T10:00:00.000Z job:done job=j1 tasks=3')
  })
})
