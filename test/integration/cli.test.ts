/**
 * The CLI as a user meets it: bad flags, no agent to talk to, a data dir that
 * keeps the identity, and a restarted node that rejoins cleanly.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { killAll, membersViaApi, runCli, startAgent, waitFor, waitAllSee, type AgentProcess } from './harness.ts'

describe('agent CLI', () => {
  const started: AgentProcess[] = []
  after(async () => { await killAll(started) })

  it('rejects unknown flags and bad values with exit code 2 and a clear message', async () => {
    for (const [args, pattern] of [
      [['--bogus'], /Unknown option '--bogus'/],
      [['--join', 'not-a-multiaddr', '--rpc', '127.0.0.1:0'], /join: "not-a-multiaddr" is not a multiaddr/],
      [['--rpc', 'nonsense'], /expected HOST:PORT/],
      [['--profile', 'fast'], /unknown profile "fast"/],
      [['--tag', 'novalue'], /--tag expects KEY=VALUE/],
      [['members', '--rpc'], /argument missing/]
    ] as const) {
      const { code, stderr } = await runCli([...args])
      assert.equal(code, 2, `${args.join(' ')} exits 2`)
      assert.match(stderr, pattern)
      assert.match(stderr, /Run `agent (help|members --help)` for usage./)
    }
  })

  it('`agent members` without a running agent says so and exits 1', async () => {
    const { code, stderr } = await runCli(['members', '--rpc', '127.0.0.1:59999'])
    assert.equal(code, 1)
    assert.match(stderr, /cannot reach the control API at 127\.0\.0\.1:59999 \(is the agent running\?\)/)
  })

  it('--data-dir keeps the peer id across restarts; the restarted node rejoins cleanly with a new boot id', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-data-'))
    try {
      const seed = await startAgent({ name: 'seed' })
      started.push(seed)
      const first = await startAgent({ name: 'keeper', join: [seed.multiaddrs[0]], extraArgs: ['--data-dir', dir] })
      started.push(first)
      assert.equal((await stat(join(dir, 'node.key'))).mode & 0o777, 0o600, 'the key file is private')
      await waitAllSee([seed], [first], 'alive', 15_000)
      const before = (await membersViaApi(seed)).find(m => m.peerId === first.peerId)!

      first.child.kill('SIGKILL')
      await first.exited
      await waitAllSee([seed], [first], 'failed', 30_000)

      const second = await startAgent({ name: 'keeper', join: [seed.multiaddrs[0]], extraArgs: ['--data-dir', dir] })
      started.push(second)
      assert.equal(second.peerId, first.peerId, 'same peer id after restart')
      await waitFor('the restarted node is alive again with a new boot id', async () => {
        const view = (await membersViaApi(seed)).find(m => m.peerId === second.peerId)
        return view?.status === 'alive' && view.bootId !== before.bootId
      }, 15_000)
      await waitFor('the restarted node sees the seed alive', async () =>
        (await membersViaApi(second)).find(m => m.peerId === seed.peerId)?.status === 'alive', 15_000)
    } finally {
      // The agents first: a running one still writes its members into the directory.
      await killAll(started)
      await rm(dir, { recursive: true, force: true })
    }
  })
})
