import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  builtinWorkloads, countPrimes, createWorkNode, fromPartial, primes, sha256, sleep, echo,
  type Peer, type WorkEffect, type WorkMessage
} from '../../workloads/index.ts'
import { seededRandom } from '../../membership/random.ts'

const config = fromPartial({ slots: 2, maxInputBytes: 1024 })
const peers: Peer[] = [
  { id: 'a', name: 'na', alive: true, tags: { role: 'web' } },
  { id: 'b', name: 'nb', alive: true, tags: {} }
]

function node (id = 'a', name = 'na') {
  const n = createWorkNode({ self: { id, name }, config, registry: builtinWorkloads(), random: seededRandom(1) })
  n.members(0, peers)
  return n
}

function sent (effects: WorkEffect[], type: WorkMessage['type']): Array<{ to?: string, msg: WorkMessage }> {
  const out: Array<{ to?: string, msg: WorkMessage }> = []
  for (const e of effects) {
    if ((e.kind === 'send' || e.kind === 'publish') && e.msg.type === type) out.push({ to: e.kind === 'send' ? e.to : undefined, msg: e.msg })
  }
  return out
}

describe('workloads coordinator: submit rejects bad input, nothing started', () => {
  it('unknown workload, malformed, oversized input, too many tasks (table)', () => {
    const table: Array<[string, unknown, RegExp]> = [
      ['nope', {}, /unknown workload "nope"/],
      ['sleep', { tasks: 'x', ms: 1 }, /invalid input for sleep: tasks must be an integer/],
      ['sleep', [1, 2], /must be a JSON object/],
      ['primes', { from: 10, to: 5 }, /to must be an integer/],
      ['sleep', { tasks: 1, ms: 1, pad: 'x'.repeat(2000) }, /over the limit of 1024/],
      ['sleep', { tasks: 1n }, /not JSON/]
    ]
    for (const [workload, input, pattern] of table) {
      const n = node()
      assert.throws(() => n.submit(0, workload, input), (err: Error) => err.name === 'JobRejectedError' && pattern.test(err.message), `${workload} ${String(pattern)}`)
      assert.deepEqual(n.jobs(), [])
    }
  })
})

describe('workloads core: one node runs a job alone (loopback)', () => {
  it('offers, claims its share, runs within its slots, counts each result once', () => {
    const n = createWorkNode({ self: { id: 'a', name: 'na' }, config, registry: builtinWorkloads(), random: seededRandom(1) })
    const { jobId, effects } = n.submit(0, 'sleep', { tasks: 5, ms: 10 }, {}, Date.parse('2026-12-03T08:00:00Z'))
    assert.equal(n.job(jobId)!.createdAt, '2026-12-03T08:00:00.000Z')
    assert.equal(n.job(jobId)!.durationMs, null, 'running')
    let runs = effects.filter(e => e.kind === 'run')
    assert.equal(runs.length, 2, 'bounded by 2 slots')
    let now = 0
    const done: number[] = []
    while (n.job(jobId)?.status === 'running' && now < 10_000) {
      now += 10
      const next: WorkEffect[] = []
      for (const r of runs) if (r.kind === 'run') { done.push(r.index); next.push(...n.taskFinished(now, r.jobId, r.index, { ok: true, value: 1 })) }
      next.push(...n.tick(now))
      runs = next.filter(e => e.kind === 'run')
    }
    const view = n.job(jobId)!
    assert.equal(view.status, 'done')
    assert.equal(view.result, 5)
    assert.deepEqual(view.stats.perNode, { na: 5 })
    assert.equal(view.stats.rerun, 0)
    assert.equal(view.durationMs, now, 'submitted at 0, ended at the last result')
    assert.deepEqual(done.sort(), [0, 1, 2, 3, 4])
    // A result re-sent by the same producer is acknowledged, not counted again.
    const again = n.receive(now, 'a', { type: 'result', jobId, epoch: 1, index: 0, ok: true, value: 1 })
    assert.equal(n.job(jobId)!.result, 5)
    assert.equal(n.job(jobId)!.stats.duplicates, 1)
    assert.equal(again.length, 0, 'the ack goes to self (loopback)')
  })
})

describe('workloads coordinator: claims and leases', () => {
  it('first claim wins, a second claimant is denied; a renewal by a non-holder is revoked and counted', () => {
    const n = node()
    const { jobId } = n.submit(0, 'sleep', { tasks: 50, ms: 10 })
    const pending = [40, 41]
    const claimA = n.receive(1, 'b', { type: 'claim', jobId, coordinator: 'a', epoch: 1, tasks: [pending[0]] })
    const grant = sent(claimA, 'grant')
    // Either granted to b, or already leased to a by its own loopback claim.
    const granted = grant.length === 1
    const claimB = n.receive(2, 'c', { type: 'claim', jobId, coordinator: 'a', epoch: 1, tasks: [pending[0]] })
    assert.equal(sent(claimB, 'deny').length, 1, 'a non-member is denied')
    const renew = n.receive(3, 'b', { type: 'renew', jobId, epoch: 1, tasks: granted ? [pending[1]] : [pending[0]] })
    assert.equal(sent(renew, 'revoke').length, 1)
    assert.equal(n.job(jobId)!.stats.ignored, 1)
  })

  it('releases the leases of a failed member and offers its tasks again', () => {
    const n = node()
    const { jobId } = n.submit(0, 'sleep', { tasks: 50, ms: 10 })
    // Claim a task nobody holds: find one by trying from the end.
    let held = -1
    for (let i = 49; i >= 0 && held < 0; i--) {
      const out = n.receive(1, 'b', { type: 'claim', jobId, coordinator: 'a', epoch: 1, tasks: [i] })
      if (sent(out, 'grant').length === 1) held = i
    }
    assert.ok(held >= 0)
    n.members(100, [peers[0], { ...peers[1], alive: false }])
    assert.ok(n.stats().coordinator.leasesReleasedOnFailure >= 1)
    const offers = sent(n.tick(100), 'offer')
    assert.ok(offers.some(o => o.msg.type === 'offer' && o.msg.tasks.some(t => t.index === held)), 'offered again')
  })

  it('a lease not renewed within leaseMs expires', () => {
    const n = node()
    const { jobId } = n.submit(0, 'sleep', { tasks: 50, ms: 10 })
    let held = -1
    for (let i = 49; i >= 0 && held < 0; i--) {
      if (sent(n.receive(1, 'b', { type: 'claim', jobId, coordinator: 'a', epoch: 1, tasks: [i] }), 'grant').length === 1) held = i
    }
    assert.ok(n.nextDeadline() <= 1 + config.leaseMs)
    n.tick(1 + config.leaseMs)
    assert.equal(n.stats().coordinator.leasesExpired >= 1, true)
    const late = n.receive(2 + config.leaseMs, 'b', { type: 'result', jobId, epoch: 1, index: held, ok: true, value: 1 })
    const ack = sent(late, 'result-ack')[0]?.msg
    assert.ok(ack?.type === 'result-ack' && !ack.counted, 'a result after the lease expired is not counted')
  })
})

describe('workloads builtins', () => {
  it('primes: split covers the range; counts match known values', () => {
    assert.equal(countPrimes(0, 100), 25)
    assert.equal(countPrimes(0, 100_000), 9592)
    const input = primes.validate({ from: 0, to: 100_000, chunks: 7 })
    const tasks = primes.split!(input)
    assert.equal(tasks.length, 7)
    const total = tasks.reduce((s, t) => s + countPrimes(t.from, t.to), 0)
    assert.equal(total, 9592)
  })

  it('sleep: one task per count, each answers 1; aborts on signal', async () => {
    const input = sleep.validate({ tasks: 3, ms: 1 })
    assert.equal(sleep.split!(input).length, 3)
    const ctl = new AbortController()
    assert.equal(await sleep.run({ ms: 1 }, { signal: ctl.signal, node: 'n', tags: {} }), 1)
    const p = sleep.run({ ms: 10_000 }, { signal: ctl.signal, node: 'n', tags: {} })
    ctl.abort()
    await assert.rejects(p, /aborted/)
    assert.equal(sleep.reduce([{ index: 0, node: 'n', value: 1 }, { index: 1, node: 'm', value: 1 }], input), 2)
  })

  it('sha256: deterministic per task via crypto.subtle', async () => {
    const input = sha256.validate({ blocks: 4, blockBytes: 64, chunks: 2 })
    const tasks = sha256.split!(input)
    assert.equal(tasks.length, 2)
    const ctx = { signal: new AbortController().signal, node: 'n', tags: {} }
    const a = await sha256.run(tasks[0], ctx)
    assert.match(a, /^[0-9a-f]{64}$/)
    assert.equal(a, await sha256.run(tasks[0], ctx))
    assert.notEqual(a, await sha256.run(tasks[1], ctx))
  })

  it('echo: a broadcast, one task per alive member matching the tags', () => {
    assert.equal(echo.kind, 'broadcast')
    const n = node()
    const all = n.submit(0, 'echo', {})
    assert.equal(n.job(all.jobId)!.stats.tasks, 2)
    const web = n.submit(0, 'echo', { tags: { role: 'web' } })
    assert.equal(n.job(web.jobId)!.stats.tasks, 1)
    assert.throws(() => n.submit(0, 'echo', { tags: { role: 1 } }), /tags must be an object of strings/)
  })
})
