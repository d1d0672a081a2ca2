/**
 * What Serf operators rely on, on 5 real agents: a user event runs every
 * agent's `user:deploy` handler once; a query filtered by tag gets exactly
 * the matching members' answers, and names a frozen one as missing; a
 * `member-failed` handler runs once on every agent after a kill -9, and
 * `agent force-leave` retires the killed member everywhere.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { killAll, runCli, startAgent, waitAllSee, waitFor, type AgentProcess } from './harness.ts'

async function linesOf (file: string): Promise<string[]> {
  return existsSync(file) ? (await readFile(file, 'utf8')).split('\n').filter(l => l !== '') : []
}

describe('user events, queries and event handlers on 5 agents', () => {
  let agents: AgentProcess[] = []
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'operator-'))
    const handlers = [
      '--event-handler', `user:deploy=echo "$AGENT_SELF_NAME $AGENT_USER_EVENT $(cat)" >> ${dir}/deploy.log`,
      '--event-handler', `member-failed=sed "s/^/$AGENT_SELF_NAME /" >> ${dir}/failed.log`,
      '--event-handler', 'query:uptime=echo "up on $AGENT_SELF_NAME"'
    ]
    const tag = (i: number): string[] => ['--tag', `role=${i <= 3 ? 'web' : 'db'}`]
    const first = await startAgent({ name: 'op1', extraArgs: [...handlers, ...tag(1)] })
    agents = [first, ...await Promise.all([2, 3, 4, 5].map(async i => await startAgent({ name: `op${i}`, join: [first.multiaddrs[0]], extraArgs: [...handlers, ...tag(i)] })))]
    await waitAllSee(agents, agents, 'alive', 30_000)
  })
  after(async () => {
    await killAll(agents)
    await rm(dir, { recursive: true, force: true })
  })

  it('agent event deploy v42: every agent\'s user:deploy handler runs once, with v42 on stdin', async () => {
    const sent = await runCli(['event', 'deploy', 'v42', '--rpc', agents[0].rpc])
    assert.equal(sent.code, 0, sent.stderr)
    assert.match(sent.stdout, /event deploy sent/)
    const file = join(dir, 'deploy.log')
    await waitFor('5 handler runs', async () => (await linesOf(file)).length >= 5, 15_000)
    await sleep(1000)
    assert.deepEqual((await linesOf(file)).sort(), ['op1 deploy v42', 'op2 deploy v42', 'op3 deploy v42', 'op4 deploy v42', 'op5 deploy v42'])
  })

  it('agent query uptime --tag role=web: exactly the 3 web agents ack and answer, each from its own handler', async () => {
    const asked = await runCli(['query', 'uptime', '--tag', 'role=web', '--json', '--rpc', agents[4].rpc])
    assert.equal(asked.code, 0, asked.stderr)
    const result = JSON.parse(asked.stdout) as { acks: string[], responses: Record<string, string>, missing: string[] }
    assert.deepEqual(result.acks.sort(), ['op1', 'op2', 'op3'])
    assert.deepEqual(result.responses, { op1: 'up on op1\n', op2: 'up on op2\n', op3: 'up on op3\n' })
    assert.deepEqual(result.missing, [])
    const streamed = await runCli(['query', 'uptime', '--tag', 'role=w.b', '--rpc', agents[0].rpc])
    assert.match(streamed.stdout, /^response from op2: up on op2$/m)
    assert.match(streamed.stdout, /3 acks, 3 responses$/m)
  })

  it('a query to a frozen member names it among those that did not answer, within the timeout', async () => {
    agents[2].child.kill('SIGSTOP')
    try {
      const t0 = Date.now()
      const asked = await runCli(['query', 'uptime', '--tag', 'role=web', '--timeout', '2s', '--json', '--rpc', agents[0].rpc])
      assert.equal(asked.code, 0, asked.stderr)
      const result = JSON.parse(asked.stdout) as { acks: string[], responses: Record<string, string>, missing: string[] }
      assert.deepEqual(result.missing, ['op3'])
      assert.deepEqual(Object.keys(result.responses).sort(), ['op1', 'op2'])
      assert.ok(Date.now() - t0 < 8000, 'ended at the timeout')
    } finally {
      agents[2].child.kill('SIGCONT')
    }
  })

  it('bad input: an unknown filter is refused at start, a bad regex and a zero timeout at the CLI', async () => {
    const bad = await runCli(['--event-handler', 'member-joined=true', '--rpc', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /unknown event filter "member-joined"/)
    const regex = await runCli(['query', 'uptime', '--tag', 'role=(', '--rpc', agents[0].rpc])
    assert.equal(regex.code, 1)
    assert.match(regex.stderr, /400.*bad regular expression/)
    const zero = await runCli(['query', 'uptime', '--timeout', '0', '--rpc', agents[0].rpc])
    assert.equal(zero.code, 2)
    const big = await runCli(['event', 'deploy', 'x'.repeat(70_000), '--rpc', agents[0].rpc])
    assert.equal(big.code, 1)
    assert.match(big.stderr, /over the limit of 65536/)
  })

  it('a member-failed handler runs once on every agent with the killed member\'s line', async () => {
    const victim = agents[4]
    victim.child.kill('SIGKILL')
    const file = join(dir, 'failed.log')
    await waitFor('4 handler runs', async () => (await linesOf(file)).length >= 4, 20_000)
    await sleep(2000)
    const lines = await linesOf(file)
    assert.equal(lines.length, 4, lines.join('\n'))
    assert.deepEqual(lines.map(l => l.split(' ')[0]).sort(), ['op1', 'op2', 'op3', 'op4'])
    for (const l of lines) assert.match(l, new RegExp(`^op\\d op5\\t${victim.peerId}\\tfailed\\tcrash\\trole=db$`))
  })

  it('agent force-leave of the killed member: left everywhere; a live or unknown member is refused', async () => {
    const survivors = agents.slice(0, 4)
    await waitAllSee(survivors, [agents[4]], 'failed', 20_000)
    const live = await runCli(['force-leave', 'op2', '--rpc', agents[0].rpc])
    assert.equal(live.code, 1)
    assert.match(live.stderr, /op2 is alive: force-leave retires failed members only/)
    const unknown = await runCli(['force-leave', 'nobody', '--rpc', agents[0].rpc])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /no member called "nobody"/)
    const retired = await runCli(['force-leave', 'op5', '--rpc', agents[1].rpc])
    assert.equal(retired.code, 0, retired.stderr)
    assert.match(retired.stdout, /^op5 \(12D3Koo\w+\) is now left/)
    await waitAllSee(survivors, [agents[4]], 'left', 10_000)
    await waitAllSee(survivors, survivors, 'alive', 1000)
  })
})
