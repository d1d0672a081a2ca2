/**
 * The agent's real timers (agent/real-timers.ts): a far deadline is
 * re-checked without firing the driver before its time.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { clock, realTimers } from '../../agent/real-timers.ts'

describe('real timers', () => {
  it('a deadline past maxDelayMs fires once, at its time, not at the re-check', async () => {
    const timers = realTimers(clock, 20)
    const t0 = clock()
    let fired = 0
    const firedAt = await new Promise<number>(resolve => { timers.at(t0 + 70, () => { fired++; resolve(clock()) }) })
    assert.ok(firedAt >= t0 + 65, `fired ${Math.round(firedAt - t0)} ms after arming, for 70`)
    assert.equal(fired, 1)
  })

  it('a cancelled timer does not fire, re-checked or not', async () => {
    const timers = realTimers(clock, 10)
    let fired = false
    const cancel = timers.at(clock() + 40, () => { fired = true })
    await new Promise(resolve => setTimeout(resolve, 15)) // past the first re-check
    cancel()
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(fired, false)
  })
})
