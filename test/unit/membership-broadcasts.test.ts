/**
 * The broadcast queue (membership/broadcasts.ts) against the implementation it
 * replaced (a copy and sort of the whole queue per take, kept here as the
 * reference): random sequences of queue / drop / take / peek / heard / joins
 * through us must give the same results (and the same count of verdicts queued since the last round), and take must
 * not cost a sort of the whole queue; and what it knows of who holds an update
 * (sent it, or heard it from) keeps it from being sent to them again.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { BroadcastQueue, cloneUpdate, type TakeOptions } from '../../membership/broadcasts.ts'
import { seededRandom } from '../../membership/random.ts'
import type { MemberId, Update } from '../../membership/types.ts'

/**
 * The queue as it was before the heap: copies and sorts every entry on each
 * take, and looks at them in that order (passing over what the recipient holds).
 */
interface RefEntry { update: Update, transmits: number, order: number, spent: boolean, holders: Set<MemberId> }
class ReferenceQueue {
  readonly #entries = new Map<MemberId, RefEntry>()
  #order = 0

  get size (): number { return this.#entries.size }

  /** Entries queued since the last roundDone(). */
  readonly #fresh = new Set<RefEntry>()

  /** Announcements of members that joined through this node since the last roundDone(). */
  readonly #joined = new Set<RefEntry>()

  /** Verdicts queued since the last round (and not replaced or dropped since), and joins through us. */
  #isNews (e: RefEntry): boolean {
    return this.#joined.has(e) || (this.#fresh.has(e) && (e.update.type === 'dead' || e.update.type === 'leave'))
  }

  get news (): number {
    return [...this.#entries.values()].filter(e => this.#isNews(e)).length
  }

  roundDone (): void {
    for (const [id, entry] of this.#entries) if (this.#isNews(entry) && entry.spent) this.#entries.delete(id)
    this.#fresh.clear()
    this.#joined.clear()
  }

  joinedThroughUs (id: MemberId): void {
    const entry = this.#entries.get(id)
    if (entry == null || entry.update.type !== 'alive') return
    entry.holders.add(id)
    this.#joined.add(entry)
  }

  heard (update: Update, from: MemberId): void {
    const entry = this.#entries.get(update.id)
    if (entry == null || entry.update.type !== update.type || entry.update.incarnation !== update.incarnation) return
    const same = update.type === 'alive' ? (entry.update as typeof update).bootId === update.bootId : (entry.update as { from?: MemberId }).from === update.from
    if (same) entry.holders.add(from)
  }

  queue (update: Update): void {
    const entry = { update: cloneUpdate(update), transmits: 0, order: ++this.#order, spent: false, holders: new Set<MemberId>() }
    this.#entries.set(update.id, entry)
    this.#fresh.add(entry)
  }

  peek (id: MemberId): Update | undefined {
    const entry = this.#entries.get(id)
    return entry == null ? undefined : cloneUpdate(entry.update)
  }

  drop (id: MemberId, predicate: (update: Update) => boolean = () => true): void {
    const entry = this.#entries.get(id)
    if (entry != null && predicate(entry.update)) this.#entries.delete(id)
  }

  take (max: number, limit: number, opts: TakeOptions = {}): Update[] {
    const { exclude, to, audience } = opts
    if (max <= 0 || this.#entries.size === 0) return []
    const sorted = [...this.#entries.values()]
      .filter(e => exclude == null || !exclude.has(e.update.id))
      .sort((a, b) => a.transmits - b.transmits || b.order - a.order)
    const picked: RefEntry[] = []
    for (const entry of sorted) {
      if (picked.length >= max) break
      if (to == null || !entry.holders.has(to)) picked.push(entry)
      else if (audience != null && audience().every(id => entry.holders.has(id))) this.#entries.delete(entry.update.id)
    }
    const out: Update[] = []
    for (const entry of picked) {
      entry.transmits++
      if (to != null) entry.holders.add(to)
      // News stays until its round is over, however often it went out.
      if (entry.transmits >= limit && !this.#isNews(entry)) this.#entries.delete(entry.update.id)
      else entry.spent = entry.transmits >= limit
      out.push(cloneUpdate(entry.update))
    }
    return out
  }
}

function randomUpdate (r: () => number, id: MemberId, serial: number): Update {
  switch (Math.floor(r() * 4)) {
    case 0: return { type: 'alive', id, name: `n-${id}`, addrs: [`/ip4/10.0.0.${serial & 255}/tcp/1`], tags: { k: String(serial) }, incarnation: serial, bootId: 'b' }
    case 1: return { type: 'suspect', id, incarnation: serial, from: r() < 0.5 ? 'self' : 'other' }
    case 2: return { type: 'dead', id, incarnation: serial, from: 'other', cause: 'unreachable' }
    default: return { type: 'leave', id, incarnation: serial }
  }
}

describe('membership broadcast queue vs the sorting reference', () => {
  for (const [seed, ids, steps] of [[1, 5, 3000], [2, 40, 5000], [3, 300, 5000], [4, 2, 2000]] as const) {
    it(`gives the same results on random operations (seed ${seed}, ${ids} member ids)`, () => {
      const r = seededRandom(seed)
      const q = new BroadcastQueue()
      const ref = new ReferenceQueue()
      const id = (): MemberId => `m${Math.floor(r() * ids)}`
      const peers = ['p0', 'p1', 'p2', 'p3']
      const peer = (): MemberId => peers[Math.floor(r() * peers.length)]
      for (let step = 0; step < steps; step++) {
        const op = r()
        if (op < 0.45) {
          const u = randomUpdate(r, id(), step)
          q.queue(u)
          ref.queue(u)
          u.incarnation = -1 // the queue holds its own copy
        } else if (op < 0.55) {
          const x = id()
          const pred = r() < 0.5 ? undefined : (u: Update) => u.type === 'suspect' && u.from === 'self'
          q.drop(x, pred)
          ref.drop(x, pred)
        } else if (op < 0.6) {
          const x = id()
          assert.deepEqual(q.peek(x), ref.peek(x), `peek at step ${step}`)
        } else if (op < 0.68) {
          // A peer sends us what we have queued (or something else about the member).
          const x = id()
          const u = r() < 0.8 ? q.peek(x) : randomUpdate(r, x, step)
          const from = peer()
          if (u != null) { q.heard(u, from); ref.heard(u, from) }
        } else if (op < 0.7) {
          const x = id()
          q.joinedThroughUs(x)
          ref.joinedThroughUs(x)
        } else {
          const max = Math.floor(r() * 7) - 1
          const limit = 1 + Math.floor(r() * 5)
          const exclude = r() < 0.3 ? new Set(Array.from({ length: Math.floor(r() * 4) }, id)) : undefined
          const to = r() < 0.6 ? peer() : undefined
          const audience = r() < 0.5 ? peers.slice(0, 1 + Math.floor(r() * peers.length)) : undefined
          const opts: TakeOptions = { exclude, to, audience: audience == null ? undefined : () => audience }
          const got = q.take(max, limit, opts)
          assert.deepEqual(got, ref.take(max, limit, opts), `take(${max}, ${limit}) at step ${step}`)
          for (const u of got) u.incarnation = -2 // copies: changing them changes nothing queued
        }
        assert.equal(q.size, ref.size, `size at step ${step}`)
        if (r() < 0.05) { q.roundDone(); ref.roundDone() }
        assert.equal(q.news, ref.news, `verdicts queued since the last round, at step ${step}`)
      }
      // Drain both the same way (news leaves once its round is over).
      q.roundDone()
      ref.roundDone()
      for (;;) {
        const got = q.take(4, 3)
        assert.deepEqual(got, ref.take(4, 3))
        if (got.length === 0) break
      }
      assert.equal(q.size, 0)
    })
  }

  it('takes from a large queue without sorting it per message', () => {
    const q = new BroadcastQueue()
    const n = 100_000
    for (let i = 0; i < n; i++) q.queue({ type: 'leave', id: `m${i}`, incarnation: i })
    q.roundDone()
    const t = performance.now()
    let taken = 0
    for (;;) {
      const got = q.take(16, 3)
      if (got.length === 0) break
      taken += got.length
    }
    const ms = performance.now() - t
    assert.equal(taken, 3 * n)
    // A sort per take would be 18,750 sorts of up to 100,000 entries: minutes.
    assert.ok(ms < 10_000, `draining took ${ms.toFixed(0)} ms`)
  })
})

describe('membership broadcast queue: who holds an update', () => {
  const dead: Update = { type: 'dead', id: 'x', incarnation: 3, from: 'a', cause: 'crash' }
  const audience = (): MemberId[] => ['n1', 'n2', 'n3']

  it('does not send an update to a member it was sent to, or heard from', () => {
    const q = new BroadcastQueue()
    q.queue(dead)
    q.heard({ ...dead }, 'n1')
    assert.deepEqual(q.take(4, 10, { to: 'n1', audience }), [], 'n1 sent it to us')
    assert.equal(q.take(4, 10, { to: 'n2', audience }).length, 1)
    assert.deepEqual(q.take(4, 10, { to: 'n2', audience }), [], 'n2 was sent it already')
    assert.deepEqual(q.lacking(audience()), ['n3'])
  })

  it('drops an update once everyone it gossips to holds it, well before the retransmit limit', () => {
    const q = new BroadcastQueue()
    q.queue(dead)
    for (const to of audience()) assert.equal(q.take(4, 10, { to, audience }).length, 1, to)
    assert.equal(q.size, 1, 'still queued: nobody asked for it since')
    assert.deepEqual(q.take(4, 10, { to: 'n1', audience }), [])
    assert.equal(q.size, 0)
  })

  it('counts only the same statement as heard: another accuser, incarnation or boot is news to the sender', () => {
    const q = new BroadcastQueue()
    q.queue(dead)
    q.heard({ ...dead, from: 'b' }, 'n1')
    q.heard({ ...dead, incarnation: 2 }, 'n2')
    assert.deepEqual(q.lacking(audience()), audience())
    const alive: Update = { type: 'alive', id: 'y', name: 'y', addrs: [], tags: {}, incarnation: 1, bootId: 'boot-1' }
    q.queue(alive)
    q.heard({ ...alive, bootId: 'boot-2' }, 'n1')
    assert.equal(q.take(1, 10, { to: 'n1', audience }).length, 1)
  })

  it('forgets who held the update it replaced', () => {
    const q = new BroadcastQueue()
    q.queue({ type: 'suspect', id: 'x', incarnation: 3, from: 'a' })
    q.take(4, 10, { to: 'n1', audience })
    q.queue(dead)
    assert.deepEqual(q.take(4, 10, { to: 'n1', audience }).map(u => u.type), ['dead'])
  })
  it('knows who lacks a verdict queued since the last round, sent already to some or not', () => {
    const q = new BroadcastQueue()
    q.queue({ type: 'alive', id: 'y', name: 'y', addrs: [], tags: {}, incarnation: 1, bootId: 'b' })
    assert.deepEqual(q.lackingNews(audience()), [], 'no verdict')
    q.queue(dead)
    q.heard(dead, 'n1')
    q.take(4, 10, { to: 'n2', audience })
    assert.deepEqual(q.lackingNews(audience()), audience().filter(id => id !== 'n1' && id !== 'n2'))
    assert.equal(q.news, 1, 'sent to one member, still new until the round')
    q.roundDone()
    assert.deepEqual(q.lackingNews(audience()), [])
  })
  it('makes the announcement of a member that joined through this node news until the round, sent past the limit in that round', () => {
    const q = new BroadcastQueue()
    q.joinedThroughUs('n1')
    assert.equal(q.news, 0, 'nothing queued about n1')
    q.queue({ type: 'alive', id: 'n1', name: 'n1', addrs: [], tags: {}, incarnation: 1, bootId: 'b' })
    q.joinedThroughUs('n1')
    assert.equal(q.news, 1)
    assert.deepEqual(q.lackingNews(audience()), ['n2', 'n3'], 'the joiner holds its own announcement')
    for (const to of ['n2', 'n3', 'n4']) assert.equal(q.take(4, 2, { to }).length, 1, `sent to ${to}, past a limit of 2`)
    q.roundDone()
    assert.equal(q.news, 0)
    assert.deepEqual(q.take(4, 2, { to: 'n5' }), [], 'sent its limit: gone once its round is over')
  })
})
