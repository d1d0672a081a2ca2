/**
 * Run by `deno test` (npm run test:deno): the membership core imported
 * directly, and two embedded agents (createAgent) on Deno's node:net and
 * node:http, on loopback. Written with node:test rather than Deno.test so that
 * `tsc` (which type-checks test/ without Deno's globals) accepts the file too.
 */
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { createMembership, fromPartial, seededRandom } from '../../membership/index.ts'
import { createAgent } from '../../agent/index.ts'

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

async function waitUntil (what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (check()) return
    await sleep(25)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
}

it('membership core on Deno: a join is answered and both sides see each other alive', () => {
  const config = fromPartial({}, 'lan')
  const make = (id: string) => createMembership({
    self: { id, name: id, addrs: [`/memory/${id}`], tags: {}, incarnation: 0, bootId: id },
    config,
    random: seededRandom(1),
    now: 0
  })
  const a = make('a')
  const b = make('b')
  const join = b.join(0, [{ addrs: ['/memory/a'] }])
  const sync = join.find(e => e.kind === 'send')
  assert.ok(sync != null && sync.kind === 'send' && sync.msg.type === 'sync')
  const answer = a.receive(1, 'b', sync.msg).find(e => e.kind === 'send')
  assert.ok(answer != null && answer.kind === 'send')
  b.receive(2, 'a', answer.msg)
  for (const core of [a, b]) {
    assert.deepEqual(core.members().map(m => [m.id, m.status]).sort(), [['a', 'alive'], ['b', 'alive']])
  }
  // A member that joined through a is news there: a's next gossip round is due at once (a deadline not after now).
  assert.ok(Number.isFinite(a.nextDeadline()), 'the core asks to be ticked')
})

it('two embedded agents on Deno converge, and leave() returns promptly', { timeout: 30_000 }, async () => {
  const a = createAgent({ name: 'a', listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'], rpc: false, profile: 'local' })
  await a.start()
  const wsAddr = a.multiaddrs.find(m => m.includes('/ws/'))!
  const b = createAgent({ name: 'b', listen: ['/ip4/127.0.0.1/tcp/0/ws'], join: [wsAddr], rpc: false, profile: 'local' })
  const joined: string[] = []
  b.on('member:join', m => { joined.push(m.name) })
  const left: string[] = []
  a.on('member:leave', m => { left.push(m.name) })
  try {
    await b.start()
    await waitUntil('both see two alive members', () =>
      [a, b].every(x => x.members().filter(m => m.status === 'alive').length === 2), 10_000)
    assert.deepEqual(joined, ['a'])
    const t0 = performance.now()
    await b.leave()
    assert.ok(performance.now() - t0 < 4000, `leave() took ${Math.round(performance.now() - t0)} ms`)
    await waitUntil('a sees b left', () => left.includes('b'), 5000)
  } finally {
    await b.stop()
    await a.stop()
  }
})

it('cluster key on Deno: agents with the same key converge (signed claims), one without the key is refused', { timeout: 30_000 }, async () => {
  const { newClusterKey } = await import('../../gossip/cluster-key.ts')
  const key = newClusterKey()
  const a = createAgent({ name: 'ka', listen: ['/ip4/127.0.0.1/tcp/0'], rpc: false, profile: 'local', clusterKey: key })
  await a.start()
  const b = createAgent({ name: 'kb', listen: ['/ip4/127.0.0.1/tcp/0'], join: [a.multiaddrs[0]], rpc: false, profile: 'local', clusterKey: key })
  const open = createAgent({ name: 'open', listen: ['/ip4/127.0.0.1/tcp/0'], join: [a.multiaddrs[0]], rpc: false, profile: 'local' })
  try {
    await b.start()
    await open.start()
    await waitUntil('the keyed agents see each other alive', () =>
      [a, b].every(x => x.members().filter(m => m.status === 'alive').length === 2), 10_000)
    await waitUntil('a counts the refused handshake', () => a.stats().security.handshakeFailures > 0, 10_000)
    assert.deepEqual(a.members().map(m => m.name).sort(), ['ka', 'kb'])
    assert.deepEqual(open.members().map(m => m.name), ['open'])
    assert.equal(a.stats().membership.signaturesRejected, 0)
  } finally {
    await Promise.all([open.stop(), b.stop(), a.stop()])
  }
})
