/**
 * A singleton through a 2|3 partition of five real agents, one per lab
 * namespace (all with --allow-exec-open): the side with the holder and one
 * other member (the minority) stops it, the majority runs exactly one, and
 * after the heal exactly one runs. The witness file (the service appends
 * `AGENT_NAME AGENT_SERVICE_EPOCH pid ms` every 50 ms) shows no overlap.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allSee, labClusterAvailable, MAIN, NODE, REPO, RPC, startLabCluster, type LabAgent, type LabCluster } from './lab-cluster.ts'
import { assertNoOverlap, lines, processGone, writer } from '../integration/service-witness.ts'
import type { ServiceView } from '../../services/index.ts'

const avail = await labClusterAvailable()
if (!avail.ok) console.log(`# SKIP network lab: ${avail.reason}`)
const skip = avail.ok ? false : `network lab: ${avail.reason}`

/** Runs the agent CLI inside an agent's namespace, against its control API. */
async function cli (c: LabCluster, agent: LabAgent, args: string[]): Promise<string> {
  const r = await c.lab.exec(agent.node, NODE, [MAIN, ...args, '--rpc', RPC], { cwd: REPO })
  assert.equal(r.code, 0, `agent ${args.join(' ')} on ${agent.name}: ${r.stderr}`)
  return r.stdout
}

async function holders (c: LabCluster, agent: LabAgent): Promise<string[]> {
  const services = JSON.parse(await cli(c, agent, ['services', '--json'])) as ServiceView[]
  return services.find(s => s.name === 'cron')?.instances.filter(i => i.state === 'running').map(i => i.member) ?? []
}

async function until (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
}

describe('network lab: a singleton through a 2|3 partition', { skip }, () => {
  let c: LabCluster
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lab-services-'))
    c = await startLabCluster(5, { extraArgs: ['--allow-exec-open'] })
  })
  after(async () => {
    await c?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  it('the minority stops it, the majority runs exactly one; after the heal exactly one, with no overlap', async () => {
    const file = join(dir, 'cron.log')
    await cli(c, c.agents[0], ['service', 'add', 'cron', '--singleton', '--', ...writer(file)])
    let holder = ''
    await until('one holder, named by every agent', async () => {
      const views = await Promise.all(c.agents.map(async a => await holders(c, a)))
      holder = views[0][0] ?? ''
      return views.every(v => v.length === 1 && v[0] === holder)
    }, 30_000)
    await until('the instance writes', async () => (await lines(file)).length > 3, 10_000)
    const holderPid = (await lines(file)).at(-1)!.pid

    const minority = [c.byName(holder), c.agents.find(a => a.name !== holder) as LabAgent]
    const majority = c.agents.filter(a => !minority.includes(a))
    await c.lab.partition([minority.map(a => a.node), majority.map(a => a.node)])
    await until('the minority\'s instance is stopped', async () => processGone(holderPid), 15_000)
    await until('the majority runs exactly one', async () => {
      const views = await Promise.all(majority.map(async a => await holders(c, a)))
      return views.every(v => v.length === 1 && v[0] === views[0][0] && majority.some(a => a.name === v[0]))
    }, 60_000)
    const during = await Promise.all(minority.map(async a => await holders(c, a)))
    assert.ok(during.every(v => !v.includes(minority[0].name) && !v.includes(minority[1].name)), `the minority runs nothing: ${JSON.stringify(during)}`)

    await c.lab.heal()
    await c.waitUntil('all five see all five alive after the heal', views => allSee(views, c.agents, c.agents, 'alive'), 30_000)
    await until('exactly one holder, named by every agent', async () => {
      const views = await Promise.all(c.agents.map(async a => await holders(c, a)))
      return views.every(v => v.length === 1 && v[0] === views[0][0])
    }, 30_000)
    await new Promise(resolve => setTimeout(resolve, 3000))
    const all = await lines(file)
    assertNoOverlap(all)
    const last = all.filter(l => l.at > Date.now() - 1000)
    assert.equal(new Set(last.map(l => l.pid)).size, 1, 'one writer now')
  })
})
