/**
 * In-process services (an edge device's singleton with no process spawned):
 * `agent.services.register(name, { start(ctx) → stop })` on some agents of an
 * embedded cluster; only they are eligible, exactly one runs it, and when it
 * stops the next one starts it with a higher fencing epoch.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createAgent, type Agent, type ServiceContext } from '../../agent/index.ts'
import { waitFor } from './harness.ts'

describe('in-process services (embedding)', () => {
  const agents: Agent[] = []
  after(async () => { await Promise.all(agents.map(async a => await a.stop())) })

  it('run on exactly one registered agent, move with a higher epoch when it stops, never on an unregistered one', async () => {
    const running = new Map<string, ServiceContext>()
    const starts: Array<{ agent: string, epoch: number }> = []
    const start = async (name: string, join: string[], register: boolean): Promise<Agent> => {
      const agent = createAgent({ name, listen: ['/ip4/127.0.0.1/tcp/0'], rpc: false, join })
      agents.push(agent)
      await agent.start()
      if (register) {
        agent.services.register('edge-sync', {
          start: (ctx) => {
            assert.ok(!ctx.signal.aborted)
            running.set(name, ctx)
            starts.push({ agent: name, epoch: ctx.epoch })
            return () => { running.delete(name) }
          }
        })
      }
      return agent
    }
    const a = await start('edge-a', [], true)
    const b = await start('edge-b', [a.multiaddrs[0]], true)
    const c = await start('edge-c', [a.multiaddrs[0]], false)
    await waitFor('all three see each other', () => [a, b, c].every(x => x.members().filter(m => m.status === 'alive').length === 3), 15_000)

    assert.deepEqual(c.services.define({ name: 'edge-sync', mode: 'singleton' }), { name: 'edge-sync', version: 1 })
    await waitFor('it runs on one registered agent', () => running.size === 1, 15_000)
    const first = [...running.keys()][0]
    assert.notEqual(first, 'edge-c')
    const view = c.services.list()[0]
    assert.ok(view.ineligible.some(x => x.member === 'edge-c' && /has not registered/.test(x.reason)), JSON.stringify(view.ineligible))

    const holder = first === 'edge-a' ? a : b
    const ctx = running.get(first) as ServiceContext
    await holder.stop()
    assert.ok(ctx.signal.aborted, 'the stopped holder aborted its instance')
    await waitFor('the other registered agent runs it', () => running.size === 1 && !running.has(first), 15_000)
    assert.deepEqual(starts.map(s => s.agent), [first, first === 'edge-a' ? 'edge-b' : 'edge-a'])
    assert.ok(starts[1].epoch > starts[0].epoch, `epoch ${starts[1].epoch} after ${starts[0].epoch}`)
  })
})
