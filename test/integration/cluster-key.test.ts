/**
 * Closed clusters: three agents with cluster key A converge; an agent with key
 * B and one with no key, both joining through agent 1, are never seen by the
 * keyed agents and never see them; agent 1 counts and logs the refusals.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { killAll, membersViaApi, runCli, startAgent, waitAllSee, waitFor, type AgentProcess } from './harness.ts'

describe('cluster key: only agents with the same key connect', () => {
  let dir = ''
  let keyed: AgentProcess[] = []
  let strangers: AgentProcess[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cluster-key-'))
    for (const file of ['a.key', 'b.key']) {
      const { code, stderr } = await runCli(['keygen', join(dir, file)])
      assert.equal(code, 0, stderr)
    }
  })
  after(async () => {
    await killAll([...keyed, ...strangers])
    await rm(dir, { recursive: true, force: true })
  })

  it('`agent keygen FILE` writes a pnet key with mode 0600 and refuses to overwrite it', async () => {
    const info = await stat(join(dir, 'a.key'))
    assert.equal(info.mode & 0o777, 0o600)
    assert.equal(info.size, 95)
    const again = await runCli(['keygen', join(dir, 'a.key')])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /exists/)
  })

  it('three agents with key A converge; key B and no key, joining via agent 1, are never seen', async () => {
    const keyA = ['--cluster-key', join(dir, 'a.key')]
    const first = await startAgent({ name: 'a1', extraArgs: keyA })
    assert.doesNotMatch(first.output(), /no cluster key/, 'no open-cluster warning with a key')
    keyed = [first, ...await Promise.all(['a2', 'a3'].map(async name =>
      await startAgent({ name, join: [first.multiaddrs[0]], extraArgs: keyA })))]
    await waitAllSee(keyed, keyed, 'alive', 15_000)

    strangers = [
      await startAgent({ name: 'b4', join: [first.multiaddrs[0]], extraArgs: ['--cluster-key', join(dir, 'b.key')] }),
      // joins over WebSocket: the key protects every transport
      await startAgent({ name: 'open5', join: [first.multiaddrs[1]] })
    ]
    assert.match(strangers[1].output(), /warning: no cluster key/)

    // Long enough for many join retries, probes and push-pulls.
    await waitFor('agent 1 counts refused handshakes', async () => {
      const stats = await (await fetch(`http://${first.rpc}/v1/stats`)).json() as { security: { handshakeFailures: number } }
      return stats.security.handshakeFailures >= 2
    }, 15_000, 200)
    await sleep(3000)
    const keyedIds = new Set(keyed.map(a => a.peerId))
    for (const agent of keyed) {
      const ids = (await membersViaApi(agent)).map(m => m.peerId)
      assert.deepEqual(new Set(ids), keyedIds, `${agent.name} lists only the keyed agents`)
    }
    for (const stranger of strangers) {
      const ids = (await membersViaApi(stranger)).map(m => m.peerId)
      assert.deepEqual(ids, [stranger.peerId], `${stranger.name} sees nobody`)
    }
    assert.match(first.output(), /refused a connection with \/ip4\/127\.0\.0\.1\/tcp\/\d+/, 'the refusal is logged with the remote address')
  })

  it('a malformed key file is refused at start with a clear error', async () => {
    const { code, stderr } = await runCli(['--cluster-key', join(dir, 'missing.key'), '--listen', '/ip4/127.0.0.1/tcp/0', '--no-rpc'])
    assert.notEqual(code, 0)
    assert.match(stderr, /cannot read the cluster key/)
  })
})
