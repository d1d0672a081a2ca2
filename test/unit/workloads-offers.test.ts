import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { OfferBook } from '../../workloads/offers.ts'

describe('workloads offer book', () => {
  it('yields claimable tasks best rank first, and only within their round', () => {
    const book = new OfferBook()
    book.set({ index: 1, round: 0 }, 2) // not ours until round 2
    book.set({ index: 2, round: 0 }, 0)
    book.set({ index: 3, round: 3 }, 1)
    book.set({ index: 4, round: 5 }, 0)
    assert.deepEqual([...book.claimable()].map(t => t.index), [2, 4, 3])
    book.set({ index: 1, round: 2 }, 2) // a re-offer widened it
    assert.deepEqual([...book.claimable()].map(t => t.index), [2, 4, 3, 1])
  })

  it('deletes while iterating, replaces on re-offer, clears', () => {
    const book = new OfferBook()
    for (let i = 0; i < 5; i++) book.set({ index: i, round: 0 }, 0)
    const taken: number[] = []
    for (const t of book.claimable()) { book.delete(t.index); taken.push(t.index); if (taken.length === 2) break }
    assert.deepEqual(taken, [0, 1])
    assert.equal(book.size, 3)
    book.set({ index: 2, round: 1 }, 1)
    assert.equal(book.size, 3)
    assert.deepEqual([...book.claimable()].map(t => t.index), [3, 4, 2])
    book.set({ index: 7, round: 1 }, 1)
    assert.deepEqual([...book.claimable()].map(t => t.index), [3, 4, 7, 2], 'other members\' shares are taken from the back')
    assert.equal(book.delete(99), false)
    book.clear()
    assert.equal(book.size, 0)
    assert.deepEqual([...book.claimable()], [])
  })
})
