/**
 * Rejoin after a restart (agent/member-snapshot.ts): 5 agents with
 * --data-dirs and fixed TCP ports, all killed with -9 and started again with
 * no --join, form one cluster again; an agent that left gracefully stays out
 * unless started with --rejoin.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort, killAll, membersViaApi, startAgent, waitAllSee, type AgentProcess } from './harness.ts'

describe('rejoin after a restart (--data-dir)', () => {
  let agents: AgentProcess[] = []
  let dir = ''
  after(async () => {
    await killAll(agents)
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('5 agents killed with -9 and started again without --join form one cluster again; a graceful leave is final unless --rejoin', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rejoin-'))
    const ports = await Promise.all([1, 2, 3, 4, 5].map(async () => await freePort()))
    const start = async (i: number, joinFirst: boolean, extra: string[] = []): Promise<AgentProcess> => await startAgent({
      name: `rj${i + 1}`,
      listen: [`/ip4/127.0.0.1/tcp/${ports[i]}`],
      join: joinFirst && i > 0 ? [`/ip4/127.0.0.1/tcp/${ports[0]}`] : [],
      extraArgs: ['--data-dir', join(dir, `rj${i + 1}`), ...extra]
    })
    agents = [await start(0, true)]
    agents.push(...await Promise.all([1, 2, 3, 4].map(async i => await start(i, true))))
    await waitAllSee(agents, agents, 'alive', 30_000)
    await sleep(1500) // the snapshot is written at most once a second

    await killAll(agents)
    agents = await Promise.all([0, 1, 2, 3, 4].map(async i => await start(i, false)))
    await waitAllSee(agents, agents, 'alive', 30_000)

    // rj5 leaves gracefully: started again without --join it stays alone, with --rejoin it is back
    agents[4].child.kill('SIGTERM')
    await agents[4].exited
    await waitAllSee(agents.slice(0, 4), [agents[4]], 'left', 15_000)
    const alone = await start(4, false)
    agents[4] = alone
    assert.match(alone.output(), /left the cluster gracefully last time: not rejoining/)
    await sleep(3000)
    assert.deepEqual((await membersViaApi(alone)).map(m => m.name), ['rj5'], 'a graceful leave is final')
    alone.child.kill('SIGKILL')
    await alone.exited
    agents[4] = await start(4, false, ['--rejoin'])
    await waitAllSee(agents, agents, 'alive', 30_000)
  })
})
