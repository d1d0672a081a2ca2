import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_TRACKED_PEERS, PeerRateLimiter } from '../../gossip/rate-limit.ts'
import { fromPartial } from '../../gossip/config.ts'

const LIMIT = { framesPerSecond: 10, frameBurst: 20, bytesPerSecond: 1000, byteBurst: 2000 }

describe('gossip rate limit: per-peer token buckets', () => {
  it('a burst passes, the excess is refused, and the rate refills over time', () => {
    let now = 0
    const limiter = new PeerRateLimiter(LIMIT, () => now)
    const passed = Array.from({ length: 30 }, () => limiter.allow('p', 10)).filter(Boolean).length
    assert.equal(passed, 20)
    now += 500 // 5 frames' worth
    assert.equal(Array.from({ length: 10 }, () => limiter.allow('p', 10)).filter(Boolean).length, 5)
    now += 60_000
    assert.equal(Array.from({ length: 30 }, () => limiter.allow('p', 10)).filter(Boolean).length, 20, 'refill is capped at the burst')
  })

  it('bytes are limited too; one peer does not use another\'s budget', () => {
    let now = 0
    const limiter = new PeerRateLimiter(LIMIT, () => now)
    assert.equal(limiter.allow('big', 1500), true)
    assert.equal(limiter.allow('big', 1000), false)
    assert.equal(limiter.allow('other', 2000), true)
    now += 1000
    assert.equal(limiter.allow('big', 1000), true)
  })

  it('tracks a bounded number of peers', () => {
    const limiter = new PeerRateLimiter(LIMIT, () => 0)
    for (let i = 0; i < MAX_TRACKED_PEERS + 100; i++) limiter.allow(`p${i}`, 1)
    assert.equal(limiter.trackedPeers, MAX_TRACKED_PEERS)
  })

  it('the transport config requires a byte burst of at least one largest message', () => {
    assert.throws(() => fromPartial({ inboundByteBurstPerPeer: 1024 }), { name: 'InvalidTransportConfigError', message: /inboundByteBurstPerPeer/ })
    assert.equal(fromPartial({}).inboundFramesPerSecondPerPeer, 200)
  })
})
