/**
 * The embedding API in one process: createAgent(), typed member events,
 * members(), leave(), and option errors.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createAgent, InvalidAgentOptionError, JobRejectedError, type Agent, type JobView, type MemberView, type Workload } from '../../agent/index.ts'
import { waitFor, within } from './harness.ts'

/** Bound on each awaited event (a join seen, a job ended): a hang, not a slow machine. */
const EVENT_MS = 15_000

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
    const member = await within('member:join of embed-b at embed-a', joined, EVENT_MS)
    // b learns of a from a's answer to its join, a moment after a learned of b.
    await within('embed-b lists embed-a', new Promise<void>(resolve => { if (b.members().length === 2) resolve(); else b.on('member:join', () => resolve()) }), EVENT_MS)
    assert.equal(member.name, 'embed-b')
    assert.equal(member.peerId, b.peerId)
    assert.deepEqual(member.tags, { role: 'embed-b' })
    assert.deepEqual(a.members().map(m => [m.name, m.status]), [['embed-a', 'alive'], ['embed-b', 'alive']])

    const left = new Promise<MemberView>(resolve => { a.on('member:leave', resolve) })
    await b.leave()
    assert.equal(b.isRunning, false)
    const gone = await within('member:leave of embed-b at embed-a', left, EVENT_MS)
    assert.equal(gone.status, 'left')
    assert.equal(gone.cause, 'left')
  })

  it('registers a workload, submits a job that spreads over both agents, reports progress and the result', async () => {
    const wordcount: Workload<string[], string, number, number> = {
      kind: 'map',
      description: 'words per line',
      validate: (input) => { if (!Array.isArray(input)) throw new Error('input must be an array of lines'); return input as string[] },
      split: (lines) => lines,
      // Each task takes 20 ms (the workload, not a wait): a cannot run all 40 before b's claims come in.
      run: async (line) => { await new Promise(resolve => setTimeout(resolve, 20)); return line.split(/\s+/).filter(Boolean).length },
      reduce: (results) => results.reduce((sum, r) => sum + r.value, 0)
    }
    const a = await start('work-a')
    const b = await start('work-b', [a.multiaddrs[0]])
    for (const agent of [a, b]) agent.workloads.register('wordcount', wordcount)
    await waitFor('work-a and work-b list each other', () => a.members().length === 2 && b.members().length === 2, EVENT_MS, 20)
    // The job's offers reach b on the work topic once a knows that b subscribes
    // to it. A broadcast echo from a ends only when b answered it (its offer is
    // re-sent until then): after that, a's offers reach b.
    const echo = await within('an echo from work-a answered by work-b', a.submit('echo', {}).result(), EVENT_MS)
    assert.deepEqual(Object.keys(echo.result as Record<string, unknown>).sort(), ['work-a', 'work-b'], 'both agents answered the echo')
    const lines = Array.from({ length: 40 }, (_, i) => 'w '.repeat(i + 1))
    const handle = a.submit('wordcount', lines)
    const progress: JobView[] = []
    handle.on('progress', v => progress.push(v))
    const job = await within('the wordcount job ends', handle.result(), EVENT_MS)
    assert.equal(job.status, 'done')
    assert.equal(job.result, 40 * 41 / 2)
    assert.ok(progress.length > 0)
    assert.deepEqual(Object.keys(job.stats.perNode).sort(), ['work-a', 'work-b'], JSON.stringify(job.stats.perNode))
    assert.equal((await b.job(job.id))?.result, 820, 'the other agent finds the ended job')

    assert.throws(() => a.submit('wordcount', 'not lines'), (err: Error) => err instanceof JobRejectedError && /must be an array/.test(err.message))
    assert.throws(() => a.submit('nope', {}), JobRejectedError)
    assert.throws(() => { a.workloads.register('primes', wordcount) }, /reserved/)
    assert.throws(() => { a.workloads.register('Bad Name', wordcount) }, /must match/)
    assert.ok(a.workloads.list().some(w => w.name === 'wordcount'))
  })

  it('a task that keeps throwing fails the job with the task\'s error', async () => {
    const a = await start('work-c')
    a.workloads.register('broken', {
      kind: 'map',
      description: 'always throws',
      validate: (input) => input,
      split: () => [1, 2],
      run: async () => { throw new Error('sensor offline') },
      reduce: () => 0
    })
    const job = await within('the broken job ends', a.submit('broken', {}).result(), EVENT_MS)
    assert.equal(job.status, 'failed')
    assert.match(job.error ?? '', /sensor offline/)
  })

  it('on() returns an unsubscribe function: after it, that listener no longer runs; the others still do', async () => {
    const a = await start('off-a')
    let unsubscribedCalls = 0
    const off = a.on('member:join', () => { unsubscribedCalls++ })
    // Registered after the one unsubscribed: listeners run in order, in the same dispatch, so
    // once this one ran for the join, the unsubscribed one would have run before it.
    const joined = new Promise<MemberView>(resolve => { a.on('member:join', resolve) })
    off()
    const b = await start('off-b', [a.multiaddrs[0]])
    const member = await within('member:join of off-b at off-a (the listener still subscribed)', joined, EVENT_MS)
    assert.equal(member.peerId, b.peerId)
    assert.equal(unsubscribedCalls, 0, 'the unsubscribed listener did not run')
  })

  it('a cluster whose full state is larger than a frame still forms: joins are answered in parts', async () => {
    // Six members with their signatures are about 1.4 KB of full state; frames here are 1 KiB.
    const transport = { maxMessageBytes: 1024 }
    const first = createAgent({ name: 'parts-1', listen: ['/ip4/127.0.0.1/tcp/0'], rpc: false, transport })
    agents.push(first)
    await first.start()
    const rest = Array.from({ length: 5 }, (_, i) => createAgent({ name: `parts-${i + 2}`, listen: ['/ip4/127.0.0.1/tcp/0'], rpc: false, join: [first.multiaddrs[0]], transport }))
    agents.push(...rest)
    await Promise.all(rest.map(async a => { await a.start() }))
    const all = [first, ...rest]
    await waitFor('every agent lists all six alive', () => all.every(a => a.members().filter(m => m.status === 'alive').length === 6), EVENT_MS, 20)
    const stats = all.map(a => a.stats())
    const syncFrames = stats.reduce((sum, s) => sum + (s.transport.messagesByType.out.sync ?? 0), 0)
    const syncs = stats.reduce((sum, s) => sum + s.membership.syncsSent, 0)
    // (gossip is not split: frames this small drop some of it as oversized, which the syncs make up for)
    assert.ok(syncFrames > syncs, `${syncFrames} sync frames for ${syncs} syncs: some went in parts`)
  })

  it('rejects bad options with InvalidAgentOptionError before starting anything', () => {
    assert.throws(() => createAgent({ listen: ['nonsense'] }), InvalidAgentOptionError)
    assert.throws(() => createAgent({ rpc: 'localhost' }), /expected HOST:PORT/)
    assert.throws(() => createAgent({ name: '' }), /name must be/)
    assert.throws(() => createAgent({ tags: { k: 'x'.repeat(300) } }), /longer than 256 bytes/)
    assert.throws(() => createAgent({ membership: { probeTimeoutMs: 5000 } }), /probeTimeoutMs must be smaller than probeIntervalMs/)
  })
})
