/**
 * A cluster of Node and Deno agents on loopback: the Deno agents run the same
 * sources through deno-compat/main.ts (spawned with the pinned deno binary),
 * the Node agents through agent/main.ts. They must converge, detect each
 * other's crashes, share a job submitted to the Deno agent, and a Deno agent
 * must leave and exit promptly on SIGTERM.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { killAll, membersViaApi, runCli, startAgent, waitAllSee, type AgentProcess, type StartOptions } from './harness.ts'
import type { JobView } from '../../workloads/index.ts'

const CONVERGE_MS = 20_000
const DETECT_MS = 30_000
/** SIGTERM to exit: 250 ms of goodbye drain plus stopping libp2p (itself bounded at 2 s). */
const EXIT_MS = 6_000
const JOB_MS = 60_000

async function startDenoAgent (options: StartOptions): Promise<AgentProcess> {
  return await startAgent({ ...options, runtime: 'deno' })
}

const wsAddr = (a: AgentProcess): string => {
  const ws = a.multiaddrs.find(m => m.includes('/ws/'))
  assert.ok(ws != null, `${a.name} listens on WebSocket`)
  return ws
}

/** A TCP connection to `a`'s WebSocket port that never sends a byte (what once kept libp2p's stop() from returning). */
async function idleConnection (a: AgentProcess): Promise<Socket> {
  const c = multiaddr(wsAddr(a)).getComponents()
  const port = Number(c.find(x => x.name === 'tcp')!.value)
  return await new Promise<Socket>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => { resolve(socket) })
    socket.on('error', reject)
  })
}

describe('mixed runtimes: Node and Deno agents in one cluster', () => {
  const agents: AgentProcess[] = []
  const idle: Socket[] = []

  after(async () => {
    for (const s of idle) s.destroy()
    await killAll(agents)
  })

  let n1: AgentProcess, n2: AgentProcess, d1: AgentProcess
  before(async () => {
    n1 = await startAgent({ name: 'n1' }); agents.push(n1)
    d1 = await startDenoAgent({ name: 'd1', join: [n1.multiaddrs[0]] }); agents.push(d1)
    // n2 joins through the Deno agent's WebSocket listener: SWIM traffic crosses runtimes on both transports.
    n2 = await startAgent({ name: 'n2', join: [wsAddr(d1)] }); agents.push(n2)
  })

  it('two Node agents and one Deno agent converge', async () => {
    await waitAllSee([n1, n2, d1], [n1, n2, d1], 'alive', CONVERGE_MS)
    const members = await membersViaApi(d1)
    assert.deepEqual(members.map(m => m.name).sort(), ['d1', 'n1', 'n2'])
  })

  it('a job submitted to the Deno agent is spread over all three (sleep on the event loop, primes in task threads)', async () => {
    for (const [workload, input, expected] of [
      ['sleep', { tasks: 60, ms: 100 }, 60],
      ['primes', { from: 0, to: 2_000_000, chunks: 60 }, 148933]
    ] as const) {
      const { code, stdout, stderr } = await runCli(['submit', workload, '--input', JSON.stringify(input), '--json', '--rpc', d1.rpc], JOB_MS)
      assert.equal(code, 0, stderr)
      const job = JSON.parse(stdout) as JobView
      assert.equal(job.result, expected)
      assert.deepEqual(Object.keys(job.stats.perNode).sort(), ['d1', 'n1', 'n2'], `${workload} per node: ${JSON.stringify(job.stats.perNode)}`)
    }
  })

  it('SIGKILL of a Node agent is detected by the Deno agent (and the other Node agent)', async () => {
    n2.child.kill('SIGKILL')
    await n2.exited
    await waitAllSee([d1, n1], [n2], 'failed', DETECT_MS)
  })

  let n3: AgentProcess
  it('SIGKILL of the Deno agent is detected by the Node agents', async () => {
    n3 = await startAgent({ name: 'n3', join: [wsAddr(n1)] }); agents.push(n3)
    await waitAllSee([n1, n3, d1], [n1, n3, d1], 'alive', CONVERGE_MS)
    d1.child.kill('SIGKILL')
    await d1.exited
    await waitAllSee([n1, n3], [d1], 'failed', DETECT_MS)
  })

  it('SIGTERM: a Deno agent with WebSocket connections leaves and exits within a bound', async (t) => {
    // d2 joins over WebSocket (an outbound ws connection), n4 joins through d2's ws listener (an inbound one),
    // and an idle TCP connection sits on d2's ws port.
    const d2 = await startDenoAgent({ name: 'd2', join: [wsAddr(n3)] }); agents.push(d2)
    const n4 = await startAgent({ name: 'n4', join: [wsAddr(d2)] }); agents.push(n4)
    await waitAllSee([n1, n3, n4, d2], [n1, n3, n4, d2], 'alive', CONVERGE_MS)
    idle.push(await idleConnection(d2))
    const started = performance.now()
    d2.child.kill('SIGTERM')
    const code = await Promise.race([d2.exited, sleep(EXIT_MS).then(() => 'timeout' as const)])
    const took = Math.round(performance.now() - started)
    assert.notEqual(code, 'timeout', `the Deno agent did not exit within ${EXIT_MS} ms of SIGTERM:\n${d2.output()}`)
    assert.equal(code, 0, `exit code (after ${took} ms):\n${d2.output()}`)
    assert.match(d2.output(), /SIGTERM: leaving the cluster[\s\S]*agent stopped/)
    t.diagnostic(`SIGTERM to exit: ${took} ms`)
    await waitAllSee([n1, n3, n4], [d2], 'left', CONVERGE_MS)
  })
})
