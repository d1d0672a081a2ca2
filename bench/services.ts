/**
 * Services benchmark: 5 real agents on loopback (lan profile, --allow-exec-open)
 * and the witness service of the tests (a shell loop appending
 * `AGENT_NAME AGENT_SERVICE_EPOCH pid ms` to a file every 50 ms). A new
 * instance "runs" at its first line; every time is from the fault to that
 * first line, on the same wall clock.
 * One run measures, in order: singleton failover after kill -9 of its holder,
 * after SIGSTOP of the next holder, and replica recovery after kill -9 of one
 * of 3 replicas.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { killAll, runCli, startAgent, waitAllSee, waitFor, type AgentProcess } from '../test/integration/harness.ts'
import { lines, writer } from '../test/integration/service-witness.ts'
import type { ServiceView } from '../services/index.ts'

export interface ServicesRun {
  /** kill -9 of the singleton's holder → its replacement's first line. */
  singletonKillMs: number
  /** SIGSTOP of the holder → its replacement's first line. */
  singletonStopMs: number
  /** kill -9 of one of 3 replicas' agents → the new replica's first line. */
  replicaKillMs: number
}

async function runningOn (agent: AgentProcess, name: string): Promise<string[]> {
  const { stdout } = await runCli(['services', '--json', '--rpc', agent.rpc])
  const service = (JSON.parse(stdout) as ServiceView[]).find(s => s.name === name)
  return service?.instances.filter(i => i.state === 'running').map(i => i.member) ?? []
}

/** Waits for a line from a pid not in `known`, written at or after `since`; the ms from `since` to it. */
async function firstNewLine (file: string, known: Set<number>, since: number, timeoutMs: number): Promise<number> {
  let at = NaN
  await waitFor('a new instance writes', async () => {
    const fresh = (await lines(file)).find(l => !known.has(l.pid) && l.at >= since)
    if (fresh != null) at = fresh.at
    return fresh != null
  }, timeoutMs, 20)
  return at - since
}

export async function runServicesBench (): Promise<ServicesRun> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-services-'))
  const agents: AgentProcess[] = []
  try {
    const exec = ['--allow-exec-open']
    agents.push(await startAgent({ name: 'b1', extraArgs: exec }))
    agents.push(...await Promise.all([2, 3, 4, 5].map(async i => await startAgent({ name: `b${i}`, join: [agents[0].multiaddrs[0]], extraArgs: exec }))))
    await waitAllSee(agents, agents, 'alive', 30_000)
    const byName = (name: string): AgentProcess => agents.find(a => a.name === name) as AgentProcess
    const pidsIn = async (file: string): Promise<Set<number>> => new Set((await lines(file)).map(l => l.pid))

    const cron = join(dir, 'cron.log')
    await runCli(['service', 'add', 'cron', '--singleton', '--rpc', agents[0].rpc, '--', ...writer(cron)])
    let holder = ''
    await waitFor('the singleton runs', async () => { holder = (await runningOn(agents[0], 'cron'))[0] ?? ''; return holder !== '' }, 30_000, 100)
    await waitFor('it writes', async () => (await lines(cron)).length > 5, 10_000)
    let t0 = Date.now()
    byName(holder).child.kill('SIGKILL')
    const singletonKillMs = await firstNewLine(cron, await pidsIn(cron), t0, 30_000)

    const alive = agents.filter(a => a.name !== holder)
    let next = ''
    await waitFor('the new holder is known', async () => { next = (await runningOn(alive[0], 'cron'))[0] ?? ''; return next !== '' && next !== holder }, 30_000, 100)
    t0 = Date.now()
    byName(next).child.kill('SIGSTOP')
    const singletonStopMs = await firstNewLine(cron, await pidsIn(cron), t0, 60_000)
    byName(next).child.kill('SIGCONT')

    const web = join(dir, 'web.log')
    await runCli(['service', 'add', 'web', '--replicas', '3', '--rpc', alive[0].rpc, '--', ...writer(web)])
    let replicas: string[] = []
    await waitFor('3 replicas run', async () => { replicas = await runningOn(alive[0], 'web'); return replicas.length === 3 }, 30_000, 100)
    await waitFor('they write', async () => (await pidsIn(web)).size === 3, 10_000)
    const victim = replicas.find(r => r !== alive[0].name) as string
    t0 = Date.now()
    byName(victim).child.kill('SIGKILL')
    const replicaKillMs = await firstNewLine(web, await pidsIn(web), t0, 30_000)
    return { singletonKillMs, singletonStopMs, replicaKillMs }
  } finally {
    await killAll(agents)
    await rm(dir, { recursive: true, force: true })
  }
}
