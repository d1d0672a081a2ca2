/**
 * Seeing the cluster, on 4 real agents: Prometheus metrics (parsed with a
 * Prometheus text parser) that count a kill -9; JSON log lines with the
 * failure's `member` and `cause`; `agent monitor --json` printing the failure
 * within a second of it; a metrics listener without the API's token.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import parsePrometheus, { type PromFamily } from 'parse-prometheus-text-format'
import { freePort, killAll, MAIN, rpcTokenFixture, startAgent, waitFor, type AgentProcess } from './harness.ts'

/** Every series the issue names, with its type. */
const EXPECTED: Array<[string, PromFamily['type']]> = [
  ['agent_members', 'GAUGE'], ['agent_member_up', 'GAUGE'], ['agent_health_score', 'GAUGE'], ['agent_partition_side', 'GAUGE'],
  ['agent_probe_duration_seconds', 'HISTOGRAM'], ['agent_suspicions_total', 'COUNTER'], ['agent_suspicions_held_total', 'COUNTER'], ['agent_refutations_total', 'COUNTER'],
  ['agent_messages_total', 'COUNTER'], ['agent_bytes_total', 'COUNTER'], ['agent_path_up', 'GAUGE'], ['agent_path_rtt_seconds', 'GAUGE'],
  ['agent_jobs_total', 'COUNTER'], ['agent_tasks_total', 'COUNTER'], ['agent_task_slots', 'GAUGE'], ['agent_service_instances', 'GAUGE'],
  ['agent_dropped_messages_total', 'COUNTER'],
  // prom-client's default process metrics
  ['process_cpu_seconds_total', 'COUNTER'], ['process_resident_memory_bytes', 'GAUGE'], ['nodejs_eventloop_lag_seconds', 'GAUGE'], ['nodejs_heap_size_used_bytes', 'GAUGE']
]

async function scrape (url: string, headers: Record<string, string> = {}): Promise<{ status: number, families: Map<string, PromFamily>, text: string }> {
  const res = await fetch(url, { headers })
  const text = await res.text()
  return { status: res.status, text, families: res.status === 200 ? new Map(parsePrometheus(text).map(f => [f.name, f])) : new Map() }
}

function sample (families: Map<string, PromFamily>, name: string, labels: Record<string, string>): number | undefined {
  const found = families.get(name)?.metrics.find(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  return found?.value != null ? Number(found.value) : undefined
}

/** The URL of the agent's --metrics-addr listener, from its log (logged just after the start record; text or JSON). */
async function metricsListener (agent: AgentProcess): Promise<string> {
  const logged = (): RegExpExecArray | null => /metrics on (http:\/\/[^\s"]+\/metrics)/.exec(agent.output())
  await waitFor('the metrics listener', () => logged() != null, 5000)
  return logged()![1]
}

describe('metrics, JSON logs and agent monitor on 4 agents', () => {
  let agents: AgentProcess[] = []
  let monitor: ChildProcess | undefined
  const monitorLines: Array<{ at: number, line: string }> = []
  let metricsUrl = ''

  before(async () => {
    const first = await startAgent({ name: 'obs1', extraArgs: ['--log-format', 'json', '--metrics-addr', '127.0.0.1:0'] })
    agents = [first, ...await Promise.all([2, 3, 4].map(async i => await startAgent({ name: `obs${i}`, join: [first.multiaddrs[0]] })))]
    await waitFor('obs1 sees 4 alive', async () => sample((await scrape(`http://${first.rpc}/metrics`)).families, 'agent_members', { status: 'alive' }) === 4, 20_000)
    metricsUrl = await metricsListener(first)
    monitor = spawn(process.execPath, [MAIN, 'monitor', '--json', '--rpc', first.rpc], { stdio: ['ignore', 'pipe', 'inherit'] })
    let partial = ''
    monitor.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const at = Date.now()
      const lines = (partial + d).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) monitorLines.push({ at, line })
    })
    // The monitor is connected once it relays a record: a user event is one.
    await waitFor('the monitor connected', async () => {
      await fetch(`http://${first.rpc}/v1/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'hello' }) })
      return monitorLines.some(l => l.line.includes('"event":"user:event"'))
    }, 10_000, 300)
  })

  after(async () => {
    monitor?.kill('SIGKILL')
    await killAll(agents)
  })

  it('/metrics: every named series with its type; 4 alive, then 1 failed after a kill -9', async () => {
    const before = await scrape(`http://${agents[0].rpc}/metrics`)
    for (const [name, type] of EXPECTED) assert.equal(before.families.get(name)?.type, type, `${name} as ${type}`)
    assert.equal(sample(before.families, 'agent_members', { status: 'alive' }), 4)
    assert.equal(sample(before.families, 'agent_member_up', { member: 'obs4' }), 1)
    // Its first probe may come a moment after the views are full (the seed learnt of all three at once).
    await waitFor('agent_messages_total{type="ping",direction="out"} > 0', async () =>
      (sample((await scrape(`http://${agents[0].rpc}/metrics`)).families, 'agent_messages_total', { type: 'ping', direction: 'out' }) ?? 0) > 0, 10_000)
    // 1 (majority) once the membership has been stable for stableAfterMs, 0 (unknown) before.
    assert.ok([0, 1].includes(sample(before.families, 'agent_partition_side', {}) ?? NaN))
    agents[3].child.kill('SIGKILL')
    await waitFor('agent_members{status="failed"} 1', async () => sample((await scrape(`http://${agents[0].rpc}/metrics`)).families, 'agent_members', { status: 'failed' }) === 1, 15_000)
    const after = await scrape(`http://${agents[0].rpc}/metrics`)
    assert.equal(sample(after.families, 'agent_members', { status: 'alive' }), 3)
    assert.equal(sample(after.families, 'agent_member_up', { member: 'obs4' }), 0)
  })

  it('--log-format json: every line parses, and the failure is one record with member and cause', async () => {
    await waitFor('the member:failed record', () => agents[0].output().includes('"event":"member:failed"'), 15_000)
    const lines = agents[0].output().split('\n').filter(l => l !== '')
    const records = lines.map(l => JSON.parse(l) as Record<string, unknown>)
    const failed = records.find(r => r.event === 'member:failed' && r.member === 'obs4')
    assert.ok(failed != null, lines.join('\n'))
    assert.equal(failed.cause, 'crash')
    assert.equal(failed.peerId, agents[3].peerId)
    assert.equal(failed.level, 'info')
    assert.equal(typeof failed.time, 'number')
  })

  it('agent monitor --json printed the failure within a second of the record', async () => {
    await waitFor('the monitor printed it', () => monitorLines.some(l => l.line.includes('"event":"member:failed"')), 15_000)
    const { at, line } = monitorLines.find(l => l.line.includes('"event":"member:failed"'))!
    const record = JSON.parse(line) as { member: string, cause: string, time: number }
    assert.equal(record.member, 'obs4')
    assert.equal(record.cause, 'crash')
    assert.ok(at - record.time < 1000, `printed ${at - record.time} ms after the record`)
  })

  it('--metrics-addr serves /metrics alone', async () => {
    const { status, families } = await scrape(metricsUrl)
    assert.equal(status, 200)
    assert.equal(families.get('agent_members')?.type, 'GAUGE')
    assert.equal((await fetch(metricsUrl.replace('/metrics', '/v1/members'))).status, 404)
  })
})

describe('metrics and the web view under an API token', () => {
  it('/metrics and the data need the token; --metrics-addr and the web view\'s files do not', async () => {
    const fixture = await rpcTokenFixture('obs-token-')
    const agent = await startAgent({ name: 'obs-token', extraArgs: ['--rpc-token', fixture.tokenFile, '--metrics-addr', '127.0.0.1:0'] })
    try {
      const metricsUrl = await metricsListener(agent)
      assert.equal((await scrape(`http://${agent.rpc}/metrics`)).status, 401)
      assert.equal((await scrape(`http://${agent.rpc}/metrics`, { authorization: `Bearer ${fixture.token}` })).status, 200)
      assert.equal((await scrape(metricsUrl)).status, 200)
      const page = await fetch(`http://${agent.rpc}/ui/`)
      assert.equal(page.status, 200)
      assert.match(await page.text(), /<script src="app.js">/)
      assert.equal((await fetch(`http://${agent.rpc}/v1/members`)).status, 401)
    } finally {
      await killAll([agent])
      await fixture.remove()
    }
  })
})

describe('agent monitor across a restart of its agent', () => {
  it('says it lost the agent, connects again by itself, and goes on printing its records', async () => {
    const port = await freePort()
    const args = { name: 'obs-restart', extraArgs: ['--rpc', `127.0.0.1:${port}`] }
    let agent = await startAgent(args)
    const monitor = spawn(process.execPath, [MAIN, 'monitor', '--rpc', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    monitor.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    monitor.stderr.setEncoding('utf8').on('data', (d: string) => { out += d })
    const fire = async (name: string): Promise<void> => {
      await fetch(`http://127.0.0.1:${port}/v1/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) }).catch(() => {})
    }
    try {
      await waitFor('the first record', async () => { await fire('before'); return out.includes('user:event') }, 10_000, 300)
      agent.child.kill('SIGKILL')
      await agent.exited
      await waitFor('the monitor noticed', () => /monitor: lost 127\.0\.0\.1:\d+/.test(out), 10_000)
      agent = await startAgent(args)
      await waitFor('connected again', () => out.includes('monitor: connected to'), 10_000)
      await waitFor('a record from the new agent', async () => { await fire('after'); return /user:event.*after|name=after/.test(out) }, 10_000, 300)
      assert.equal(monitor.exitCode, null, out)
    } finally {
      monitor.kill('SIGKILL')
      await killAll([agent])
    }
  })
})
