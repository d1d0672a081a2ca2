/**
 * The core driver (membership/driver.ts): the one loop the agent and the
 * simulator drive their cores with.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CoreDriver, type DriverTimers } from '../../membership/index.ts'

/** Logical time with one list of timers, fired in order by `advance`. */
function fakeTimers (): DriverTimers & { time: number, armed: () => number[], advance: (to: number) => void } {
  let timers: Array<{ at: number, fire: () => void, live: boolean }> = []
  const t = {
    time: 0,
    now: () => t.time,
    at: (at: number, fire: () => void) => {
      const timer = { at, fire, live: true }
      timers.push(timer)
      return () => { timer.live = false }
    },
    armed: () => timers.filter(x => x.live).map(x => x.at).sort((a, b) => a - b),
    advance: (to: number) => {
      for (;;) {
        const due = timers.filter(x => x.live && x.at <= to).sort((a, b) => a.at - b.at)[0]
        if (due == null) break
        due.live = false
        t.time = Math.max(t.time, due.at)
        due.fire()
      }
      timers = timers.filter(x => x.live)
      t.time = to
    }
  }
  return t
}

/** A core with a settable deadline that records its ticks. */
function fakeCore () {
  const core = {
    deadline: Infinity,
    ticks: [] as number[],
    tick: (now: number) => { core.ticks.push(now); if (now >= core.deadline) core.deadline = Infinity; return [`tick@${now}`] },
    nextDeadline: () => core.deadline
  }
  return core
}

describe('CoreDriver', () => {
  it('performs an input\'s effects at the current time and ticks the core at its deadline', () => {
    const timers = fakeTimers()
    const core = fakeCore()
    const performed: Array<[string[], number]> = []
    const driver = new CoreDriver({ core, timers, perform: (e, now) => { performed.push([e, now]) } })
    timers.time = 5
    driver.drive(now => { core.deadline = now + 100; return ['input'] })
    assert.deepEqual(performed, [[['input'], 5]])
    assert.deepEqual(timers.armed(), [105])
    timers.advance(200)
    assert.deepEqual(core.ticks, [105])
    assert.deepEqual(performed[1], [['tick@105'], 105])
    assert.deepEqual(timers.armed(), [], 'nothing left to do, no timer')
  })

  it('replaces the timer when the deadline moves, later as well as earlier: no wake-up for a deadline that went away', () => {
    const timers = fakeTimers()
    const core = fakeCore()
    const driver = new CoreDriver({ core, timers, perform: () => {} })
    driver.drive(() => { core.deadline = 100; return [] })
    driver.drive(() => { core.deadline = 300; return [] }) // say, a probe's ack took its timeout away
    assert.deepEqual(timers.armed(), [300])
    timers.advance(150)
    assert.deepEqual(core.ticks, [], 'no tick for the deadline that went away')
    driver.drive(() => { core.deadline = 200; return [] })
    assert.deepEqual(timers.armed(), [200])
    driver.drive(() => { core.deadline = Infinity; return [] })
    assert.deepEqual(timers.armed(), [], 'nothing to do, no timer')
  })

  it('a timer that fires a little early (Node counts whole milliseconds) ticks the core at its deadline, not a millisecond later again', () => {
    const timers = fakeTimers()
    const core = fakeCore()
    const wholeMs: DriverTimers = { now: timers.now, at: (at, fire) => timers.at(Math.floor(at), fire) }
    const driver = new CoreDriver({ core, timers: wholeMs, perform: () => {} })
    driver.drive(() => { core.deadline = 100.6; return [] })
    timers.advance(100)
    assert.deepEqual(core.ticks, [100.6], 'fired at 100, ticked at its deadline')
    assert.deepEqual(timers.armed(), [], 'what was due is done: nothing armed for a millisecond later')
  })

  it('a deadline already past, -Infinity included, is due now', () => {
    const timers = fakeTimers()
    const core = fakeCore()
    const driver = new CoreDriver({ core, timers, perform: () => {} })
    timers.time = 50
    driver.drive(() => { core.deadline = -Infinity; return [] })
    assert.deepEqual(timers.armed(), [50])
    timers.advance(50)
    assert.deepEqual(core.ticks, [50])
  })

  it('takes no input while not accepting (a frozen process) and none after stop()', () => {
    const timers = fakeTimers()
    const core = fakeCore()
    let up = true
    const performed: string[][] = []
    const driver = new CoreDriver({ core, timers, perform: e => { performed.push(e) }, accepting: () => up })
    driver.drive(() => { core.deadline = 100; return ['a'] })
    up = false
    driver.drive(() => ['frozen'])
    timers.advance(150)
    assert.deepEqual(performed, [['a']], 'neither the input nor the tick ran while frozen')
    up = true
    driver.disarm()
    driver.drive(now => core.tick(now)) // the overdue tick, driven by the one who resumed it
    assert.deepEqual(core.ticks, [150])
    driver.drive(() => { core.deadline = 400; return ['b'] })
    driver.stop()
    driver.drive(() => ['after stop'])
    timers.advance(1000)
    assert.deepEqual(performed.at(-1), ['b'])
    assert.deepEqual(timers.armed(), [])
  })
})
