import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  clampHealth, expectedConfirmations, pushPullScaleMs, retransmitLimit, scaleByHealth,
  suspicionMaxTimeoutMs, suspicionMinTimeoutMs, suspicionTimeoutMs
} from '../../membership/formulas.ts'
import { Awareness } from '../../membership/awareness.ts'
import { confirmSuspicion, markRefused, postponeSuspicion, startSuspicion, stretchForLocalHealth } from '../../membership/suspicion.ts'
import { BroadcastQueue } from '../../membership/broadcasts.ts'
import { pickRandom, seededRandom, shuffle } from '../../membership/random.ts'

describe('membership formulas: suspicion timeout', () => {
  it('minimum scales with log10 of the cluster size, never below suspicionMult intervals', () => {
    const table: Array<[mult: number, n: number, intervalMs: number, expected: number]> = [
      [4, 0, 1000, 4000],
      [4, 1, 1000, 4000],
      [4, 5, 1000, 4000],
      [4, 10, 1000, 4000],
      [4, 50, 1000, 6795],
      [4, 100, 1000, 8000],
      [4, 1000, 1000, 12000],
      [3, 100, 500, 3000],
      [6, 10, 5000, 30000]
    ]
    for (const [mult, n, interval, expected] of table) {
      assert.equal(suspicionMinTimeoutMs(mult, n, interval), expected, `mult=${mult} n=${n} interval=${interval}`)
    }
  })

  it('maximum is the minimum times suspicionMaxTimeoutMult', () => {
    assert.equal(suspicionMaxTimeoutMs(4000, 6), 24000)
    assert.equal(suspicionMaxTimeoutMs(6795, 6), 40770)
    assert.equal(suspicionMaxTimeoutMs(4000, 1), 4000)
  })

  it('expects suspicionMult - 2 confirmations, capped by the n - 2 members that could confirm', () => {
    const table: Array<[mult: number, n: number, expected: number]> = [
      [4, 0, 0], [4, 1, 0], [4, 2, 0], [4, 3, 1], [4, 4, 2], [4, 50, 2],
      [6, 5, 3], [6, 50, 4], [2, 50, 0], [1, 50, 0]
    ]
    for (const [mult, n, expected] of table) {
      assert.equal(expectedConfirmations(mult, n), expected, `mult=${mult} n=${n}`)
    }
  })

  it('shrinks from max to min logarithmically with confirmations (memberlist table)', () => {
    const table: Array<[c: number, k: number, expected: number]> = [
      [0, 3, 30000], [1, 3, 16000], [2, 3, 7810], [3, 3, 2000], [4, 3, 2000], [10, 3, 2000],
      [0, 0, 2000], [5, 0, 2000], [0, 1, 30000], [1, 1, 2000]
    ]
    for (const [c, k, expected] of table) {
      assert.equal(suspicionTimeoutMs(c, k, 2000, 30000), expected, `c=${c} k=${k}`)
    }
  })
})

describe('membership formulas: dissemination', () => {
  it('retransmit limit is mult * ceil(log10(n + 1))', () => {
    const table: Array<[mult: number, n: number, expected: number]> = [
      [3, 0, 0], [3, 1, 3], [3, 9, 3], [3, 10, 6], [3, 99, 6], [3, 100, 9], [4, 50, 8], [4, 1000, 16]
    ]
    for (const [mult, n, expected] of table) assert.equal(retransmitLimit(mult, n), expected, `mult=${mult} n=${n}`)
  })

  it('push-pull interval is unchanged up to 32 members, then grows with log2(n)', () => {
    for (let n = 0; n <= 32; n++) assert.equal(pushPullScaleMs(1000, n), 1000, `n=${n}`)
    for (let n = 33; n <= 64; n++) assert.equal(pushPullScaleMs(1000, n), 2000, `n=${n}`)
    for (let n = 65; n <= 128; n++) assert.equal(pushPullScaleMs(1000, n), 3000, `n=${n}`)
    assert.equal(pushPullScaleMs(1000, 129), 4000)
    assert.equal(pushPullScaleMs(30_000, 50), 60_000)
  })
})

describe('membership formulas: awareness', () => {
  it('scales timeouts by health + 1', () => {
    const table: Array<[ms: number, health: number, expected: number]> = [
      [500, 0, 500], [500, 1, 1000], [1000, 7, 8000], [1000, -3, 1000]
    ]
    for (const [ms, health, expected] of table) assert.equal(scaleByHealth(ms, health), expected)
  })

  it('clamps the score to [0, max - 1]', () => {
    assert.equal(clampHealth(-1, 8), 0)
    assert.equal(clampHealth(3, 8), 3)
    assert.equal(clampHealth(12, 8), 7)
    assert.equal(clampHealth(5, 1), 0)
  })

  it('Awareness applies deltas and scales', () => {
    const a = new Awareness(8)
    assert.equal(a.score, 0)
    assert.equal(a.apply(-1), 0)
    assert.equal(a.apply(3), 3)
    assert.equal(a.scale(500), 2000)
    assert.equal(a.apply(10), 7)
    assert.equal(a.scale(1000), 8000)
    assert.equal(a.apply(-7), 0)
  })
})

describe('membership suspicion timer', () => {
  it('starts at max, shortens with distinct confirmations, ignores repeats and the accuser', () => {
    const s = startSuspicion(1000, 'a', 3, 2000, 30000)
    assert.equal(s.deadline, 31000)
    assert.equal(confirmSuspicion(s, 'a'), false)
    assert.equal(confirmSuspicion(s, 'b'), true)
    assert.equal(s.deadline, 17000)
    assert.equal(confirmSuspicion(s, 'b'), false)
    assert.equal(confirmSuspicion(s, 'c'), true)
    assert.equal(s.deadline, 8810)
    assert.equal(confirmSuspicion(s, 'd'), true)
    assert.equal(s.deadline, 3000)
    assert.equal(confirmSuspicion(s, 'e'), false, 'no more than k confirmations count')
  })

  it('refused evidence caps the timeout; a stall postpones it', () => {
    const s = startSuspicion(0, 'a', 2, 4000, 24000)
    markRefused(s, 100, 500)
    assert.equal(s.deadline, 600)
    postponeSuspicion(s, 2600)
    assert.equal(s.deadline, 2600)
  })

  it('an accuser in poor local health stretches a running-out suspicion once, by score × minimum; never one with crash evidence', () => {
    const s = startSuspicion(0, 'a', 0, 4000, 24000)
    assert.equal(stretchForLocalHealth(s, 4000, 0), false, 'healthy: no stretch')
    assert.equal(stretchForLocalHealth(s, 4000, 2), true)
    assert.equal(s.deadline, 12_000)
    assert.equal(stretchForLocalHealth(s, 12_000, 3), false, 'only once')
    const refused = startSuspicion(0, 'a', 2, 4000, 24000)
    markRefused(refused, 0, 500)
    assert.equal(stretchForLocalHealth(refused, 500, 5), false)
    assert.equal(refused.deadline, 500)
  })

  it('k = 0 means the minimum at once', () => {
    assert.equal(startSuspicion(0, 'a', 0, 4000, 24000).deadline, 4000)
  })
})

describe('membership broadcast queue', () => {
  it('keeps one update per member, newest replacing older, least transmitted first, limited retransmits', () => {
    const q = new BroadcastQueue()
    q.queue({ type: 'suspect', id: 'x', incarnation: 1, from: 'a' })
    q.queue({ type: 'dead', id: 'x', incarnation: 1, from: 'a', cause: 'unreachable' })
    q.queue({ type: 'leave', id: 'y', incarnation: 2 })
    assert.equal(q.size, 2)
    assert.deepEqual(q.take(1, 2).map(u => u.type), ['leave'], 'newest first among equals')
    assert.deepEqual(q.take(1, 2).map(u => u.type), ['dead'], 'then the least transmitted')
    assert.deepEqual(q.take(5, 2).map(u => u.type).sort(), ['dead', 'leave'])
    assert.equal(q.size, 2, 'verdicts are news until their gossip round is over')
    q.roundDone()
    assert.equal(q.size, 0, 'dropped after the retransmit limit')
  })

  it('excludes members already in the message', () => {
    const q = new BroadcastQueue()
    q.queue({ type: 'leave', id: 'y', incarnation: 2 })
    assert.deepEqual(q.take(5, 3, { exclude: new Set(['y']) }), [])
    assert.equal(q.take(5, 3).length, 1)
  })
})

describe('membership random', () => {
  it('is deterministic per seed and in [0, 1)', () => {
    const a = seededRandom(42)
    const b = seededRandom(42)
    const c = seededRandom(43)
    const xs = Array.from({ length: 1000 }, () => a())
    assert.deepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => b()))
    assert.notEqual(xs[0], c())
    assert.ok(xs.every(x => x >= 0 && x < 1))
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`)
  })

  it('shuffles and picks without repeats', () => {
    const r = seededRandom(7)
    const items = Array.from({ length: 20 }, (_, i) => i)
    assert.deepEqual([...shuffle(r, items.slice())].sort((x, y) => x - y), items)
    const picked = pickRandom(r, items, 5)
    assert.equal(new Set(picked).size, 5)
    assert.equal(pickRandom(r, items, 50).length, 20)
    assert.deepEqual(pickRandom(r, [], 3), [])
  })
})
