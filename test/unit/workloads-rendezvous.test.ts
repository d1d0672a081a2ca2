import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { claimWeight, fnv1a64, rank, rankOf, score, unitHash } from '../../workloads/rendezvous.ts'

describe('workloads rendezvous: stable hash', () => {
  it('FNV-1a 64 matches the reference vectors', () => {
    const table: Array<[string, bigint]> = [
      ['', 0xcbf29ce484222325n],
      ['a', 0xaf63dc4c8601ec8cn],
      ['foobar', 0x85944171f73967e8n]
    ]
    for (const [text, expected] of table) assert.equal(fnv1a64(text), expected, JSON.stringify(text))
  })

  it('unitHash is in (0, 1) and stable', () => {
    for (let i = 0; i < 1000; i++) {
      const u = unitHash(`job/${i}`, 'peer-1')
      assert.ok(u > 0 && u < 1)
      assert.equal(u, unitHash(`job/${i}`, 'peer-1'))
    }
  })
})

describe('workloads rendezvous: weighted ranking', () => {
  const members = ['peer-1', 'peer-2', 'peer-3', 'peer-4', 'peer-5']

  it('is the same for any candidate order and total (ties by id)', () => {
    const a = members.map(id => ({ id, weight: 1 }))
    for (let i = 0; i < 50; i++) assert.deepEqual(rank(`k${i}`, a), rank(`k${i}`, a.slice().reverse()))
    assert.deepEqual(rank('k', [{ id: 'b', weight: 0 }, { id: 'a', weight: 0 }]), ['a', 'b'])
  })

  it('spreads keys in proportion to weight (table)', () => {
    const table: Array<[weights: number[], expectedShares: number[]]> = [
      [[1, 1, 1, 1, 1], [0.2, 0.2, 0.2, 0.2, 0.2]],
      [[4, 1, 1, 1, 1], [0.5, 0.125, 0.125, 0.125, 0.125]],
      [[1, 1, 0, 0, 0], [0.5, 0.5, 0, 0, 0]]
    ]
    const keys = 4000
    for (const [weights, shares] of table) {
      const candidates = members.map((id, i) => ({ id, weight: weights[i] }))
      const won = new Map<string, number>()
      for (let k = 0; k < keys; k++) {
        const owner = rank(`job/${k}`, candidates)[0]
        won.set(owner, (won.get(owner) ?? 0) + 1)
      }
      members.forEach((id, i) => {
        const share = (won.get(id) ?? 0) / keys
        assert.ok(Math.abs(share - shares[i]) < 0.03, `weights ${weights}: ${id} won ${share}, expected ${shares[i]}`)
      })
    }
  })

  it('moves only the keys of a member that leaves', () => {
    const all = members.map(id => ({ id, weight: 1 }))
    const without = all.filter(c => c.id !== 'peer-3')
    for (let k = 0; k < 500; k++) {
      const before = rank(`t/${k}`, all)[0]
      const after = rank(`t/${k}`, without)[0]
      if (before !== 'peer-3') assert.equal(after, before)
    }
  })

  it('rankOf, score and claimWeight', () => {
    const c = members.map(id => ({ id, weight: 1 }))
    assert.equal(rankOf('x', c, rank('x', c)[2]), 2)
    assert.equal(rankOf('x', c, 'nobody'), -1)
    assert.equal(score('x', 'peer-1', 0), 0)
    assert.ok(score('x', 'peer-1', 2) === 2 * score('x', 'peer-1', 1))
    const table: Array<[number, number]> = [[0, 0.0625], [-3, 0.0625], [1, 1.0625], [8, 8.0625]]
    for (const [free, w] of table) assert.equal(claimWeight(free), w)
  })
})
