// What the simulator's cores share (membership/shared-views.ts): member states
// interned across views, and id sets as bitmaps over shared member indices.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createMembership, fromPartial, seededRandom, sharedViews } from '../../membership/index.ts'
import type { KnownMember, Membership, SyncEntry } from '../../membership/index.ts'
import { idSet } from '../../membership/id-set.ts'
import { memberState } from '../../membership/member-states.ts'
import { memberTable } from '../../membership/member-table.ts'

test('an id set over shared indices behaves as a Set, whatever the order of additions', () => {
  const shared = sharedViews()
  const r = seededRandom(3)
  const bits = idSet(shared)
  const plain = new Set<string>()
  for (let step = 0; step < 5000; step++) {
    const id = `m${Math.floor(r() * 300)}`
    if (r() < 0.6) { bits.add(id); plain.add(id) } else assert.equal(bits.delete(id), plain.delete(id))
    assert.equal(bits.size, plain.size)
  }
  for (let i = 0; i < 320; i++) assert.equal(bits.has(`m${i}`), plain.has(`m${i}`))
  assert.deepEqual([...bits].sort(), [...plain].sort())
  // Asking about a stranger gives it no index.
  assert.equal(bits.has('never-added'), false)
  assert.equal(shared.find('never-added'), undefined)
})

test('equal member states are one object across views; a changed one is a new object', () => {
  const shared = sharedViews()
  const a = { id: 'm1', name: 'm1', addrs: Object.freeze(['/memory/m1']) as string[], tags: {}, incarnation: 2, bootId: 'b', status: 'alive' as const }
  const one = shared.intern(memberState(a))
  assert.equal(shared.intern(memberState({ ...a })), one)
  const suspect = shared.intern(memberState({ ...a, status: 'suspect', cause: 'unreachable' }))
  assert.notEqual(suspect, one)
  assert.equal(shared.intern(memberState({ ...a, status: 'suspect', cause: 'unreachable' })), suspect)
  assert.equal(shared.intern(memberState({ ...a, addrs: ['/memory/m1'] })) === one, false, 'addresses compare by identity')
})

test('cores sharing views hold the same views as cores that do not', () => {
  const config = fromPartial({}, 'lan')
  const known: KnownMember[] = Array.from({ length: 30 }, (_, i) => ({ id: `m${String(i).padStart(2, '0')}`, name: `m${i}`, addrs: [`/memory/m${i}`], tags: {}, incarnation: 0, bootId: `b${i}` }))
  const shared = sharedViews()
  const make = (i: number, withShared: boolean): Membership => createMembership({
    self: known[i], config, random: seededRandom(i), now: 0, knownMembers: known, sharedViews: withShared ? shared : undefined
  })
  const plain = [make(1, false), make(2, false)]
  const sharing = [make(1, true), make(2, true)]
  // m05 is suspected and then failed, m07 refutes with a new incarnation: the same news to all four.
  const news: Array<[string, Parameters<Membership['receive']>[2]]> = [
    ['m03', { type: 'gossip', updates: [{ type: 'suspect', id: 'm05', incarnation: 0, from: 'm03' }] }],
    ['m04', { type: 'gossip', updates: [{ type: 'dead', id: 'm05', incarnation: 0, from: 'm04', cause: 'unreachable' }] }],
    ['m07', { type: 'gossip', updates: [{ type: 'alive', ...known[7], incarnation: 1 }] }]
  ]
  for (const [from, msg] of news) for (const core of [...plain, ...sharing]) core.receive(1000, from, msg)
  for (let k = 0; k < 2; k++) {
    assert.deepEqual(sharing[k].members(), plain[k].members())
    assert.deepEqual(sharing[k].viewDigest(), plain[k].viewDigest())
    assert.deepEqual(sharing[k].health(), plain[k].health())
  }
  assert.equal(sharing[0].member('m05')?.status, 'failed')
  const entries = (core: Membership): SyncEntry[] => core.receive(2000, 'm09', { type: 'sync', reply: true, join: false, members: [] })
    .flatMap(e => e.kind === 'send' && e.msg.type === 'sync' ? e.msg.members : [])
  assert.deepEqual(entries(sharing[0]), entries(plain[0]))
})

test('a member table over shared indices keeps a Map\'s order and answers', () => {
  const shared = sharedViews()
  // Indices given out in another order than this table's additions.
  for (const id of ['m9', 'm3', 'm7']) shared.indexOf(id)
  const r = seededRandom(5)
  const table = memberTable<number>(shared)
  const map = new Map<string, number>()
  for (let step = 0; step < 4000; step++) {
    const id = `m${Math.floor(r() * 200)}`
    const roll = r()
    if (roll < 0.5) { table.set(id, step); map.set(id, step) } else if (roll < 0.8) assert.equal(table.delete(id), map.delete(id))
    else assert.equal(table.get(id), map.get(id))
    assert.equal(table.size, map.size)
  }
  assert.deepEqual([...table.keys()], [...map.keys()])
  assert.deepEqual([...table.values()], [...map.values()])
  assert.equal(table.has('stranger'), false)
})
