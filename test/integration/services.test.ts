/**
 * Services on 5 real agents on loopback (all with --allow-exec-open): the
 * service command appends `AGENT_NAME AGENT_SERVICE_EPOCH pid ms` to a file
 * every 50 ms, and the file is the witness: a singleton's writers never
 * overlap, through kill -9 and SIGSTOP of its holder.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, killAll, runCli, startAgent, waitAllSee, waitFor, type AgentProcess } from './harness.ts'
import type { ServiceView } from '../../services/index.ts'
import { assertNoOverlap, lines, processGone, writer } from './service-witness.ts'

const EXEC = ['--allow-exec-open']

async function servicesOf (agent: AgentProcess): Promise<ServiceView[]> {
  const { code, stdout, stderr } = await runCli(['services', '--json', '--rpc', agent.rpc])
  if (code !== 0) throw new Error(`agent services failed: ${stderr}`)
  return JSON.parse(stdout) as ServiceView[]
}

/** The members running `name` (state running) as `agent` reports it. */
async function runningOn (agent: AgentProcess, name: string): Promise<string[]> {
  const service = (await servicesOf(agent)).find(s => s.name === name)
  return service?.instances.filter(i => i.state === 'running').map(i => i.member).sort() ?? []
}

async function startFive (prefix: string, extra: (i: number) => string[] = () => []): Promise<AgentProcess[]> {
  const first = await startAgent({ name: `${prefix}1`, extraArgs: [...EXEC, ...extra(0)] })
  const rest = await Promise.all([2, 3, 4, 5].map(async i => await startAgent({ name: `${prefix}${i}`, join: [first.multiaddrs[0]], extraArgs: [...EXEC, ...extra(i - 1)] })))
  const agents = [first, ...rest]
  await waitAllSee(agents, agents, 'alive', 30_000)
  return agents
}

describe('services on 5 agents', () => {
  let agents: AgentProcess[] = []
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'services-'))
    agents = await startFive('svc')
  })
  after(async () => {
    await killAll(agents)
    await rm(dir, { recursive: true, force: true })
  })

  it('a singleton runs on one agent, moves on kill -9 and on SIGSTOP of its holder, and never runs twice', async () => {
    const file = join(dir, 'cron.log')
    const added = await runCli(['service', 'add', 'cron', '--singleton', '--rpc', agents[2].rpc, '--', ...writer(file)])
    assert.equal(added.code, 0, added.stderr)
    assert.match(added.stdout, /service cron defined/)

    let holder = ''
    await waitFor('every agent names the same one holder', async () => {
      const views = await Promise.all(agents.map(async a => await runningOn(a, 'cron')))
      holder = views[0][0] ?? ''
      return views.every(v => v.length === 1 && v[0] === holder)
    }, 30_000, 200)
    await waitFor('the instance writes', async () => (await lines(file)).length > 3, 10_000)

    // kill -9 of the holder: its instance dies with it, another agent takes over
    const first = agents.find(a => a.name === holder) as AgentProcess
    const firstPid = (await lines(file)).at(-1)!.pid
    first.child.kill('SIGKILL')
    const others = agents.filter(a => a !== first)
    await waitFor('the killed holder\'s instance is gone (no orphan)', () => processGone(firstPid), 5_000)
    let second = ''
    await waitFor('another agent runs it', async () => {
      second = (await runningOn(others[0], 'cron'))[0] ?? ''
      return second !== '' && second !== holder
    }, 30_000, 200)

    // SIGSTOP of the new holder: its supervisor stops the instance, then another agent runs it
    await waitFor('the new instance writes', async () => (await lines(file)).at(-1)?.name === second, 10_000)
    const frozen = agents.find(a => a.name === second) as AgentProcess
    const frozenPid = (await lines(file)).at(-1)!.pid
    frozen.child.kill('SIGSTOP')
    await waitFor('the frozen holder\'s instance is stopped', () => processGone(frozenPid), 10_000)
    const rest = others.filter(a => a !== frozen)
    await waitFor('a third agent runs it', async () => {
      const on = (await runningOn(rest[0], 'cron'))[0]
      return on != null && on !== second
    }, 60_000, 200)
    frozen.child.kill('SIGCONT')
    await waitFor('the resumed agent sees the singleton elsewhere', async () => {
      const on = await runningOn(frozen, 'cron')
      return on.length === 1 && on[0] !== second
    }, 30_000, 200)
    await new Promise(resolve => setTimeout(resolve, 3000))
    const all = await lines(file)
    assert.ok(all.filter(l => l.pid === frozenPid).every(l => l.at < Date.now() - 3000), 'the resumed holder did not start it again')
    assertNoOverlap(all)
    assert.ok(new Set(all.map(l => l.pid)).size >= 3, 'three instances in turn')
  })
})

describe('a replicated service and health checks on 5 agents', () => {
  let agents: AgentProcess[] = []
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'services-'))
    agents = await startFive('rep')
  })
  after(async () => {
    await killAll(agents)
    await rm(dir, { recursive: true, force: true })
  })

  it('3 replicas run on 3 distinct agents, and again after kill -9 of one of them', async () => {
    const added = await runCli(['service', 'add', 'web', '--replicas', '3', '--rpc', agents[0].rpc, '--', ...writer(join(dir, 'web.log'))])
    assert.equal(added.code, 0, added.stderr)
    let on: string[] = []
    await waitFor('3 replicas on distinct agents, seen alike by all', async () => {
      const views = await Promise.all(agents.map(async a => await runningOn(a, 'web')))
      on = views[0]
      return on.length === 3 && new Set(on).size === 3 && views.every(v => v.join() === on.join())
    }, 30_000, 200)
    const victim = agents.find(a => a.name === on[0]) as AgentProcess
    victim.child.kill('SIGKILL')
    const alive = agents.filter(a => a !== victim)
    await waitFor('3 replicas again, none on the killed agent', async () => {
      const now = await runningOn(alive[0], 'web')
      return now.length === 3 && new Set(now).size === 3 && !now.includes(victim.name)
    }, 30_000, 200)
    const table = await runCli(['services', '--rpc', alive[0].rpc])
    assert.match(table.stdout, /^web\s+replicated\s+3\s+placed/m)
  })

  it('agent service logs on any agent shows the output of the member that runs the service', async () => {
    const alive = agents.filter(a => a.child.exitCode == null && a.child.signalCode == null)
    const added = await runCli(['service', 'add', 'hello', '--singleton', '--rpc', alive[0].rpc, '--', 'sh', '-c', 'echo "hello from $AGENT_NAME"; exec sleep 600'])
    assert.equal(added.code, 0, added.stderr)
    let holder = ''
    await waitFor('it runs somewhere', async () => { holder = (await runningOn(alive[0], 'hello'))[0] ?? ''; return holder !== '' }, 30_000, 200)
    const other = alive.find(a => a.name !== holder) as AgentProcess
    await waitFor('another agent shows the holder\'s line', async () => {
      const logs = await runCli(['service', 'logs', 'hello', '--rpc', other.rpc])
      return new RegExp(`^\\S+ ${holder} stdout hello from ${holder}$`, 'm').test(logs.stdout)
    }, 10_000, 200)
    assert.equal((await runCli(['service', 'rm', 'hello', '--rpc', other.rpc])).code, 0)
  })

  it('an instance that keeps failing its health check is restarted, then moved to another agent', async () => {
    const alive = agents.filter(a => a.child.exitCode == null && a.child.signalCode == null)
    // nothing listens on port 1: every check fails
    const added = await runCli(['service', 'add', 'sick', '--singleton', '--check-tcp', '127.0.0.1:1', '--check-interval', '200ms', '--rpc', alive[0].rpc, '--', 'sleep', '600'])
    assert.equal(added.code, 0, added.stderr)
    let first = ''
    await waitFor('it runs somewhere', async () => { first = (await runningOn(alive[0], 'sick'))[0] ?? ''; return first !== '' }, 30_000, 200)
    await waitFor('it was restarted where it ran', async () => {
      const service = (await servicesOf(alive[0])).find(s => s.name === 'sick')
      return service?.instances.some(i => i.member === first && i.restarts > 0) === true
    }, 30_000, 200)
    await waitFor('it moved to another agent', async () => {
      const on = await runningOn(alive[0], 'sick')
      return on.length === 1 && on[0] !== first
    }, 60_000, 200)
    const holder = alive.find(a => a.name === first) as AgentProcess
    const logs = await runCli(['service', 'logs', 'sick', '--rpc', holder.rpc])
    assert.match(logs.stdout, /^\S+ \S+ stderr \[agent\] health check failed/m)
    const removed = await runCli(['service', 'rm', 'sick', '--rpc', alive[1].rpc])
    assert.equal(removed.code, 0, removed.stderr)
    await waitFor('removed everywhere', async () => (await servicesOf(alive[2])).every(s => s.name !== 'sick'), 10_000, 200)
  })
})

describe('services survive a restart of the whole cluster', () => {
  let agents: AgentProcess[] = []
  let dir = ''
  after(async () => {
    await killAll(agents)
    await rm(dir, { recursive: true, force: true })
  })

  it('5 agents restarted with the same --data-dirs run the services again without re-adding them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'services-'))
    const port = await freePort()
    const seed = `/ip4/127.0.0.1/tcp/${port}`
    const start = async (): Promise<AgentProcess[]> => {
      const first = await startAgent({ name: 'dd1', listen: [seed], extraArgs: [...EXEC, '--data-dir', join(dir, 'dd1')] })
      const rest = await Promise.all([2, 3, 4, 5].map(async i => await startAgent({ name: `dd${i}`, join: [first.multiaddrs[0]], extraArgs: [...EXEC, '--data-dir', join(dir, `dd${i}`)] })))
      return [first, ...rest]
    }
    agents = await start()
    await waitAllSee(agents, agents, 'alive', 30_000)
    for (const args of [['once', '--singleton'], ['pool', '--replicas', '2']]) {
      const added = await runCli(['service', 'add', ...args, '--rpc', agents[1].rpc, '--', 'sleep', '600'])
      assert.equal(added.code, 0, added.stderr)
    }
    const placed = async (): Promise<boolean> => {
      const views = await Promise.all(agents.map(async a => await servicesOf(a)))
      return views.every(v => v.length === 2 && v.every(s => s.status === 'placed'))
    }
    await waitFor('both services placed, seen by all', placed, 30_000, 200)
    const epochBefore = (await servicesOf(agents[0])).find(s => s.name === 'once')!.instances[0].epoch

    for (const a of agents) a.child.kill('SIGTERM')
    await Promise.all(agents.map(async a => await a.exited))
    agents = await start()
    await waitAllSee(agents, agents, 'alive', 30_000)
    await waitFor('both services placed again', placed, 30_000, 200)
    const once = (await servicesOf(agents[4])).find(s => s.name === 'once')!
    assert.ok(once.instances[0].epoch > epochBefore, `epoch ${once.instances[0].epoch} after ${epochBefore}: epochs keep growing across restarts`)
  })
})
