/**
 * Work claims across five real agent processes, driven through the CLI and
 * the control API as a user would: a CPU-bound job spread over every member,
 * a broadcast, and exactly-once counting through a worker crash and a
 * coordinator crash. The cluster is the test kit's (mode `processes`).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createTestCluster, type ProcessesTestCluster } from '../../testkit/index.ts'
import { jobViaApi, runCli, waitFor, type AgentProcess } from './harness.ts'
import type { JobView } from '../../workloads/index.ts'

const CONVERGE_MS = 20_000
const JOB_MS = 90_000

function sum (perNode: Record<string, number>): number {
  return Object.values(perNode).reduce((a, b) => a + b, 0)
}

async function submitNoWait (agent: AgentProcess, workload: string, input: unknown): Promise<string> {
  const { code, stdout, stderr } = await runCli(['submit', workload, '--input', JSON.stringify(input), '--no-wait', '--rpc', agent.rpc])
  assert.equal(code, 0, stderr)
  return stdout.trim()
}

async function waitDone (agent: AgentProcess, id: string): Promise<JobView> {
  let job: JobView | undefined
  await waitFor(`job ${id} ends (asking ${agent.name})`, async () => {
    job = await jobViaApi(agent, id)
    return job != null && job.status !== 'running'
  }, JOB_MS, 250)
  return job!
}

/** The agent running the most tasks now (tasks started, not finished or aborted, from GET /v1/stats). */
async function busyWorker (candidates: AgentProcess[]): Promise<AgentProcess> {
  let best: { agent: AgentProcess, running: number } | undefined
  await waitFor('a worker running tasks', async () => {
    for (const agent of candidates) {
      const stats = await (await fetch(`http://${agent.rpc}/v1/stats`)).json() as { work: { worker: { tasksStarted: number, tasksFinished: number, tasksAborted: number } } }
      const w = stats.work.worker
      const running = w.tasksStarted - w.tasksFinished - w.tasksAborted
      if (running > (best?.running ?? 0)) best = { agent, running }
    }
    return best != null
  }, JOB_MS, 20)
  return best!.agent
}

async function waitProgress (agent: AgentProcess, id: string, done: number): Promise<void> {
  await waitFor(`job ${id} has ${done} tasks done`, async () => ((await jobViaApi(agent, id))?.stats.done ?? 0) >= done, JOB_MS, 50)
}

/** Agent 5 alone may run commands (exec); the others say so. */
const EXEC_AGENT = 5

describe('work claims: 6 agent processes on loopback', () => {
  let cluster: ProcessesTestCluster
  let agents: AgentProcess[] = []

  before(async () => {
    cluster = await createTestCluster({ size: 6, mode: 'processes', profile: 'lan', agentArgs: i => ['--slots', '2', ...(i === EXEC_AGENT ? ['--allow-exec-open'] : [])] })
    agents = Array.from({ length: 6 }, (_, i) => cluster.process(i))
    await cluster.converged({ timeoutMs: CONVERGE_MS })
  })
  after(async () => { await cluster?.stop() })

  it('`agent submit primes` on agent 3 returns 1270607 and every agent took part', async () => {
    const { code, stdout, stderr } = await runCli(['submit', 'primes', '--input', '{"from":0,"to":20000000,"chunks":200}', '--json', '--rpc', agents[2].rpc], JOB_MS)
    assert.equal(code, 0, stderr)
    const job = JSON.parse(stdout) as JobView
    assert.equal(job.status, 'done')
    assert.equal(job.result, 1270607)
    assert.equal(job.error, null)
    assert.equal(job.stats.tasks, 200)
    assert.equal(sum(job.stats.perNode), 200)
    assert.deepEqual(Object.keys(job.stats.perNode).sort(), agents.map(a => a.name).sort(), `per node: ${JSON.stringify(job.stats.perNode)}`)
    for (const field of ['id', 'workload', 'status', 'result', 'error', 'stats'] as const) assert.ok(field in job, `job JSON has ${field}`)
  })

  it('a broadcast echo returns one answer per alive member', async () => {
    const { code, stdout, stderr } = await runCli(['submit', 'echo', '--json', '--rpc', agents[0].rpc], JOB_MS)
    assert.equal(code, 0, stderr)
    const job = JSON.parse(stdout) as JobView
    assert.equal(job.status, 'done')
    const answers = job.result as Record<string, { node: string }>
    assert.deepEqual(Object.keys(answers).sort(), agents.map(a => a.name).sort())
    for (const [name, answer] of Object.entries(answers)) assert.equal(answer.node, name)
  })

  it('exec runs only on agents started with --allow-exec-open (no cluster key here); the others say so', async () => {
    const execAgent = agents[EXEC_AGENT]
    const { code, stdout, stderr } = await runCli(['submit', 'exec', '--input', '{"command":"echo hello from $0; exit 3"}', '--json', '--rpc', execAgent.rpc], JOB_MS)
    assert.equal(code, 0, stderr)
    const answers = (JSON.parse(stdout) as JobView).result as Record<string, { code?: number, stdout?: string, error?: string }>
    assert.deepEqual(Object.keys(answers).sort(), agents.map(a => a.name).sort())
    assert.equal(answers[execAgent.name].code, 3)
    assert.equal(answers[execAgent.name].stdout, 'hello from /bin/sh\n')
    for (const a of agents.filter(a => a !== execAgent)) assert.match(answers[a.name].error ?? '', /not enabled on this node/)
    // The crash tests below run on the five others.
    await cluster.leave(EXEC_AGENT)
    agents.pop()
  })

  it('bad submissions get a clear error and start nothing', async () => {
    const before = (await runCli(['jobs', '--json', '--rpc', agents[0].rpc])).stdout
    const table: Array<[string[], RegExp]> = [
      [['submit', 'nope'], /unknown workload "nope"/],
      [['submit', 'sleep', '--input', '{"tasks":"x","ms":1}'], /invalid input for sleep: tasks must be an integer/],
      [['submit', 'sleep', '--input', '{not json'], /--input is not JSON/],
      [['submit', 'sleep', '--input', JSON.stringify({ tasks: 1, ms: 1, pad: 'x'.repeat(70_000) })], /over the limit/],
      [['submit', 'exec', '--input', '{"command":"true"}'], /the exec workload is disabled on this agent/]
    ]
    for (const [args, pattern] of table) {
      const { code, stderr } = await runCli([...args, '--rpc', agents[0].rpc])
      assert.notEqual(code, 0, args.join(' '))
      assert.match(stderr, pattern)
    }
    assert.equal((await runCli(['jobs', '--json', '--rpc', agents[0].rpc])).stdout, before, 'no job was started')
    for (const [path, status] of [['/v1/jobs/%zz', 400], ['/v1/jobs/NOTHEX', 400], ['/v1/jobs/0123456789abcdef', 404]] as const) {
      const res = await fetch(`http://${agents[0].rpc}${path}`)
      assert.equal(res.status, status, path)
      assert.equal(typeof ((await res.json()) as { error: unknown }).error, 'string')
    }
  })

  it('kill -9 of a worker mid-job: the sleep job still counts exactly 200', async () => {
    const id = await submitNoWait(agents[2], 'sleep', { tasks: 200, ms: 200 })
    await waitProgress(agents[2], id, 40)
    // a worker (not the coordinator) that is running tasks right now: its leases must be re-run
    const victim = await busyWorker(agents.filter(a => a !== agents[2]))
    await cluster.crash(agents.indexOf(victim))
    const job = await waitDone(agents[2], id)
    assert.equal(job.status, 'done', job.error ?? '')
    assert.equal(job.result, 200)
    assert.equal(sum(job.stats.perNode), 200)
    assert.ok(job.stats.rerun >= 1, `the killed worker's tasks were re-run (rerun ${job.stats.rerun}, per node ${JSON.stringify(job.stats.perNode)})`)
    const other = agents.find(a => a !== victim && a !== agents[2])!
    const cli = await runCli(['job', id, '--json', '--rpc', other.rpc])
    assert.equal(cli.code, 0, cli.stderr)
    assert.equal((JSON.parse(cli.stdout) as JobView).result, 200, 'another agent answers `agent job ID` with the same result')
  })

  it('kill -9 of the coordinator mid-job: a replica finishes it and `agent job ID` elsewhere returns exactly 200', async () => {
    const coordinator = agents[2]
    const id = await submitNoWait(coordinator, 'sleep', { tasks: 200, ms: 200 })
    await waitProgress(coordinator, id, 40)
    await cluster.crash(2)
    const survivors = agents.filter(a => a !== coordinator && a.child.exitCode == null && a.child.signalCode == null)
    const job = await waitDone(survivors[0], id)
    assert.equal(job.status, 'done', job.error ?? '')
    assert.equal(job.result, 200)
    assert.equal(sum(job.stats.perNode), 200)
    assert.ok(job.epoch >= 2, 'a replica took the job over')
    for (const agent of survivors) {
      const { code, stdout, stderr } = await runCli(['job', id, '--json', '--rpc', agent.rpc])
      assert.equal(code, 0, stderr)
      assert.equal((JSON.parse(stdout) as JobView).result, 200, `${agent.name} answers exactly 200`)
    }
  })
})
