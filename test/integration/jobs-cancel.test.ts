/**
 * Stopping jobs, through the real CLI and API of three agent processes: a
 * practically endless job holds every slot, a second job submitted behind it
 * still finishes (slots are shared between jobs), `agent job cancel` from a
 * member that does not coordinate it ends it `cancelled` and frees every slot
 * of the cluster within one lease, and a job past its `--deadline` fails
 * saying so.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { JobView } from '../../workloads/index.ts'
import { jobViaApi, killAll, runCli, startCluster, waitAllSee, waitFor, type AgentProcess } from './harness.ts'

/** WorkConfig.leaseMs: a worker that missed the job's end has its next renewal revoked within it. */
const LEASE_MS = 10_000

interface SlotStats { work: { slots: { total: number, running: number, waiting: number } } }

async function slots (agent: AgentProcess): Promise<SlotStats['work']['slots']> {
  const res = await fetch(`http://${agent.rpc}/v1/stats`, { signal: AbortSignal.timeout(5000) })
  return (await res.json() as SlotStats).work.slots
}

async function submitNoWait (agent: AgentProcess, workload: string, input: unknown, extra: string[] = []): Promise<string> {
  const { code, stdout, stderr } = await runCli(['submit', workload, '--input', JSON.stringify(input), '--no-wait', '--rpc', agent.rpc, ...extra])
  assert.equal(code, 0, stderr)
  return stdout.trim()
}

describe('work claims: cancel, fair slots and deadlines (3 agent processes)', () => {
  let agents: AgentProcess[] = []
  before(async () => {
    agents = await startCluster(3, 'c', 'lan', ['--slots', '2'])
    await waitAllSee(agents, agents, 'alive', 20_000)
  })
  after(async () => { await killAll(agents) })

  it('a job behind an endless one finishes; `agent job cancel` from another member frees every slot within one lease', async (t) => {
    const [coordinator, other, canceller] = agents
    const endless = await submitNoWait(coordinator, 'sleep', { tasks: 1_000_000, ms: 300 })
    await waitFor('every slot busy with the endless job', async () =>
      (await Promise.all(agents.map(slots))).every(s => s.running === s.total), 20_000)

    const second = await submitNoWait(other, 'sleep', { tasks: 6, ms: 10 })
    let done: JobView | undefined
    await waitFor('the second job ends', async () => { done = await jobViaApi(other, second); return done?.status !== 'running' }, 60_000, 200)
    assert.equal(done?.status, 'done')
    assert.equal(done?.result, 6)

    const { code, stdout, stderr } = await runCli(['job', 'cancel', endless, '--rpc', canceller.rpc, '--json'])
    assert.equal(code, 0, stderr)
    const view = JSON.parse(stdout) as JobView
    assert.equal(view.id, endless)
    await waitFor('the endless job ended cancelled', async () => (await jobViaApi(canceller, endless))?.status === 'cancelled', 10_000)
    // within one lease: the bound of the wait (and some slack), not a measured time
    const freedIn = await waitFor('every slot free', async () =>
      (await Promise.all(agents.map(slots))).every(s => s.running === 0 && s.waiting === 0), LEASE_MS + 5000, 100)
    t.diagnostic(`slots freed ${Math.round(freedIn)} ms after the job ended`)
    const ended = await jobViaApi(other, endless)
    assert.equal(ended?.status, 'cancelled')
    assert.match(ended?.error ?? '', /cancelled/)

    // cancelling it again: it already ended
    const again = await runCli(['job', 'cancel', endless, '--rpc', other.rpc])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /409.*already ended \(cancelled\)/)
    const unknown = await runCli(['job', 'cancel', '0123456789abcdef', '--rpc', other.rpc])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /404.*no member knows job 0123456789abcdef/)
  })

  it('a job past its --deadline fails and says so; a bad deadline is refused', async () => {
    const [coordinator] = agents
    const id = await submitNoWait(coordinator, 'sleep', { tasks: 100, ms: 1000 }, ['--deadline', '2s'])
    let view: JobView | undefined
    await waitFor('the job fails', async () => { view = await jobViaApi(coordinator, id); return view?.status !== 'running' }, 20_000)
    assert.equal(view?.status, 'failed')
    assert.match(view?.error ?? '', /deadline of 2000 ms passed/)
    assert.equal(view?.deadlineMs, 2000)
    const bad = await runCli(['submit', 'sleep', '--input', '{"tasks":1,"ms":1}', '--deadline', 'soon', '--rpc', coordinator.rpc])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--deadline expects a duration/)
    const res = await fetch(`http://${coordinator.rpc}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ workload: 'sleep', input: { tasks: 1, ms: 1 }, deadlineMs: 0 }) })
    assert.equal(res.status, 400)
    assert.match((await res.json() as { error: string }).error, /deadlineMs must be an integer/)
  })
})
