/**
 * The embedding API in one process: createAgent(), typed member events,
 * members(), leave(), and option errors.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createAgent, InvalidAgentOptionError, type Agent, type MemberView } from '../../agent/index.ts'

describe('createAgent (embedding)', () => {
  const agents: Agent[] = []
  after(async () => { await Promise.all(agents.map(async a => await a.stop())) })

  const start = async (name: string, join: string[] = []): Promise<Agent> => {
    const agent = createAgent({ name, listen: ['/ip4/127.0.0.1/tcp/0'], rpc: false, join, tags: { role: name } })
    agents.push(agent)
    await agent.start()
    return agent
  }

  it('emits member:join and member:leave, and members() reflects them', async () => {
    const a = await start('embed-a')
    const joined = new Promise<MemberView>(resolve => { a.on('member:join', resolve) })
    const b = await start('embed-b', [a.multiaddrs[0]])
    const member = await joined
    // b learns of a from a's answer to its join, a moment after a learned of b.
    await new Promise<void>(resolve => { if (b.members().length === 2) resolve(); else b.on('member:join', () => resolve()) })
    assert.equal(member.name, 'embed-b')
    assert.equal(member.peerId, b.peerId)
    assert.deepEqual(member.tags, { role: 'embed-b' })
    assert.deepEqual(a.members().map(m => [m.name, m.status]), [['embed-a', 'alive'], ['embed-b', 'alive']])

    const left = new Promise<MemberView>(resolve => { a.on('member:leave', resolve) })
    await b.leave()
    assert.equal(b.isRunning, false)
    const gone = await left
    assert.equal(gone.status, 'left')
    assert.equal(gone.cause, 'left')
  })

  it('on() returns an unsubscribe function', async () => {
    const a = agents[0]
    let calls = 0
    const off = a.on('member:update', () => { calls++ })
    off()
    assert.equal(calls, 0)
  })

  it('rejects bad options with InvalidAgentOptionError before starting anything', () => {
    assert.throws(() => createAgent({ listen: ['nonsense'] }), InvalidAgentOptionError)
    assert.throws(() => createAgent({ rpc: 'localhost' }), /expected HOST:PORT/)
    assert.throws(() => createAgent({ name: '' }), /name must be/)
    assert.throws(() => createAgent({ tags: { k: 'x'.repeat(300) } }), /longer than 256 bytes/)
    assert.throws(() => createAgent({ membership: { probeTimeoutMs: 5000 } }), /probeTimeoutMs must be smaller than probeIntervalMs/)
  })
})
