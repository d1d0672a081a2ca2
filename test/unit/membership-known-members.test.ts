// A core created knowing its members (MembershipOptions.knownMembers), as the
// simulator starts a settled cluster at scale: the same view as a core that
// learned them from a join's sync, without the news.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createMembership, fromPartial, seededRandom, signedAlivePayload } from '../../membership/index.ts'
import type { Effect, KnownMember, MemberAnnouncement, Membership, MembershipOptions, SyncEntry } from '../../membership/index.ts'
import { fakeSigner } from '../../testkit/sim/fake-signer.ts'

const config = fromPartial({}, 'lan')
const N = 40

function announcement (i: number): KnownMember {
  const a: MemberAnnouncement = { id: `m${String(i).padStart(3, '0')}`, name: `m${i}`, addrs: [`/memory/m${i}`], tags: i % 3 === 0 ? { role: 'db' } : {}, incarnation: i % 4, bootId: `boot-${i}` }
  return { ...a, signature: fakeSigner(a.id).sign(signedAlivePayload(a)) }
}

const known = Array.from({ length: N }, (_, i) => announcement(i))

function core (extra: Partial<MembershipOptions> = {}): Membership {
  return createMembership({ self: known[0], config, random: seededRandom(7), now: 0, signer: fakeSigner(known[0].id), ...extra })
}

/** The same members taught by a join's answer: a sync from m001 holding everyone. */
function learnedBySync (): { core: Membership, effects: Effect[] } {
  const c = core()
  const members: SyncEntry[] = known.map(a => ({ ...a, status: 'alive', signedIncarnation: a.incarnation }))
  const effects = c.receive(0, known[1].id, { type: 'sync', reply: false, join: false, members })
  return { core: c, effects }
}

test('a core created with known members holds the view a join sync would teach it', () => {
  const settled = core({ knownMembers: known })
  const { core: joined } = learnedBySync()
  const strip = (c: Membership): unknown => c.members().map(({ statusSince: _, ...m }) => m)
  assert.deepEqual(strip(settled), strip(joined))
  assert.equal(settled.members().length, N)
  assert.deepEqual(settled.viewDigest(), joined.viewDigest())
  assert.deepEqual(settled.neighbours(), joined.neighbours())
  assert.ok(settled.neighbours().length > 0, 'the ring is in use at this size')
  // The partition verdicts count them too: the same side and stable membership once it formed.
  const later = config.stableAfterMs + 1
  settled.tick(1)
  settled.tick(later)
  joined.tick(later)
  assert.deepEqual(settled.health(), joined.health())
  assert.equal(settled.health().stableSize, N)
})

test('known members are no news: no events, nothing gossiped, no announcement of itself', () => {
  const settled = core({ knownMembers: known })
  // Past a few gossip rounds and a probe: pings go out, gossip does not.
  const effects: Effect[] = []
  for (let t = 0; t <= 3 * config.probeIntervalMs; t = settled.nextDeadline()) effects.push(...settled.tick(Math.max(t, 1)))
  assert.equal(effects.filter(e => e.kind === 'event').length, 0)
  const sends = effects.flatMap(e => e.kind === 'send' ? [e.msg] : [])
  assert.ok(sends.some(m => m.type === 'ping'), 'it probes its members')
  assert.equal(sends.filter(m => m.type === 'gossip').length, 0)
  assert.ok(sends.every(m => !('updates' in m) || m.updates.length === 0), 'nothing piggybacked')
  // A sync it answers relays each member's own signature, as one learned by sync would.
  const answer = settled.receive(5000, known[2].id, { type: 'sync', reply: true, join: false, members: [] })
    .flatMap(e => e.kind === 'send' && e.msg.type === 'sync' ? e.msg.members : [])
  const m5 = answer.find(e => e.id === known[5].id)
  assert.deepEqual(m5?.signature, known[5].signature)
})
