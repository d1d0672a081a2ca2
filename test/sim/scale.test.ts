/**
 * Membership simulation at scale: the driver of `npm run sim:scale`
 * (bench/scale/run.ts) with real cores, for a short span, so that the scale
 * path cannot rot. Invariants: no member accuses itself, the incarnation an
 * observer sees of a member never goes down, every crashed member ends failed
 * in every view, no member that is up ends failed in any view. Also checks
 * bench/scale/wire-size.ts against the real codec on the run's messages.
 *
 * Replay a failure exactly with the seed it prints: `SIM_SEED=<seed> npm run test:sim`.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Message, MessageType } from '../../membership/index.ts'
import { encodeMessage } from '../../gossip/codec.ts'
import { createScaleCluster } from '../../bench/scale/run.ts'
import { suspicionTimeouts } from '../../bench/scale/model.ts'
import { ALIVE, FAILED } from '../../bench/scale/views.ts'
import { frameSize, varintSize } from '../../bench/scale/wire-size.ts'
import { exponential } from '../../testkit/sim/latency.ts'
import { seeded } from './seed.ts'

/**
 * Cluster size of the full scenario (join, crashes, detection everywhere): as
 * large as keeps it within about a minute on a 2-core machine. A mass join
 * costs every member every other's announcement (N² updates, each retransmitted
 * log N times): 2,000 members joining within 5 s need minutes of simulated
 * time to converge (bench/scale/analysis.md). SIM_SCALE_N=<n> runs another size.
 */
const N = Number(process.env.SIM_SCALE_N ?? 400)
/** Members of the short span at scale: the mass join only, with the invariants checked throughout. */
const SPAN_N = Number(process.env.SIM_SPAN_N ?? 2000)
const SPAN_MS = 15_000
/** Members of the run that starts settled (every member created knowing every other: SimCluster startSettled). */
const SETTLED_N = 1000
const LOSS = 0.01
const SLOW_SHARE = 0.01
const SLOW_MEAN_MS = 250
const DEFAULT_SEED = 0x5ca1e
const CONVERGE_MS = 30_000
/** Messages of each type whose computed size is checked against the codec. */
const SIZE_SAMPLES = 50

const { simulate } = seeded(DEFAULT_SEED)

describe(`membership simulation at scale: ${N} real cores, ${LOSS * 100}% loss, ${SLOW_SHARE * 100}% slow members`, () => {
  it('converges, fails every crashed member everywhere and no live one anywhere; sizes match the codec', simulate(0, (seed) => {
    const samples = new Map<MessageType, Message[]>()
    const tap = (msg: Message): void => {
      const list = samples.get(msg.type) ?? []
      if (list.length < SIZE_SAMPLES) list.push(structuredClone(msg))
      samples.set(msg.type, list)
    }
    const { cluster, views } = createScaleCluster({ seed, size: N, lifeguard: true, joinWithinMs: 5000, trackIncarnations: true, tap })
    cluster.net.lossRate = LOSS
    cluster.start()
    // Joining all at once, members miss each other's announcements; the early
    // push-pulls after each join catch them up (10-11 s at 400, three seeds;
    // 17-21 s with one early round, the rest waiting for the period).
    cluster.runUntil(() => views.converged(), CONVERGE_MS, 500)
    assert.equal(views.convergedCount(), N, `members that see every other alive after ${CONVERGE_MS} ms`)

    for (let k = 0; k < Math.round(SLOW_SHARE * N); k++) cluster.slow(views.ids[1 + Math.floor(cluster.random() * (N - 1))], exponential(SLOW_MEAN_MS))
    // Two hosts go down (silence) and one process is killed (connection refused): members every view holds alive.
    const known = (a: number): boolean => views.ids.every((_, o) => o === a || views.code(o, a) === ALIVE)
    const crashed = [N - 1, N - 2, N - 3, N - 4, N - 5, N - 6].filter(known).slice(0, 3)
    assert.equal(crashed.length, 3, 'members known to all to crash')
    crashed.forEach((i, k) => {
      cluster.crash(views.ids[i], { refuse: k === 2 })
      views.down(i)
    })
    const { maxMs } = suspicionTimeouts(cluster.config, N)
    const detected = cluster.runUntil(() => crashed.every(i => views.failedSeen[i] === views.upCount), maxMs + 30_000, 500)
    assert.ok(detected != null, `crashed members failed in ${crashed.map(i => views.failedSeen[i]).join(', ')} of ${views.upCount} views`)
    cluster.runFor(5000)

    assert.deepEqual(views.violations.slice(0, 10), [], `${views.violations.length} invariant violations`)
    for (const i of crashed) assert.equal(views.failedSeen[i], views.upCount, `${views.ids[i]} is not failed everywhere`)
    const wrong: string[] = []
    for (let o = 0; o < N && wrong.length < 10; o++) {
      if (views.up[o] === 0) continue
      for (let a = 0; a < N; a++) {
        if (views.up[a] === 1 && (views.code(o, a) & 7) === FAILED) wrong.push(`${views.ids[o]} holds live ${views.ids[a]} failed`)
      }
    }
    assert.deepEqual(wrong, [])

    for (const [type, list] of samples) {
      for (const msg of list) {
        const body = encodeMessage(msg).byteLength
        assert.equal(frameSize(msg), varintSize(body) + body, `size of a ${type}`)
      }
    }
    assert.ok(['ping', 'ack', 'sync', 'gossip', 'ping-req'].every(t => samples.has(t as MessageType)), [...samples.keys()].join(', '))
  }))

  it(`${SETTLED_N} members started settled (no mass join): crashed members failed everywhere, no live one anywhere`, simulate(2, (seed) => {
    const { cluster, views } = createScaleCluster({ seed, size: SETTLED_N, lifeguard: true, joinWithinMs: 0, trackIncarnations: true })
    cluster.net.lossRate = LOSS
    cluster.startSettled()
    views.allAlive()
    for (let k = 0; k < Math.round(SLOW_SHARE * SETTLED_N); k++) cluster.slow(views.ids[1 + Math.floor(cluster.random() * (SETTLED_N - 1))], exponential(SLOW_MEAN_MS))
    cluster.runFor(5000)
    const crashed = [SETTLED_N - 1, SETTLED_N - 2]
    for (const i of crashed) {
      cluster.crash(views.ids[i], { refuse: false })
      views.down(i)
    }
    const { maxMs } = suspicionTimeouts(cluster.config, SETTLED_N)
    const detected = cluster.runUntil(() => crashed.every(i => views.failedSeen[i] === views.upCount), maxMs + 30_000, 500)
    assert.ok(detected != null, `crashed members failed in ${crashed.map(i => views.failedSeen[i]).join(', ')} of ${views.upCount} views`)
    assert.deepEqual(views.violations.slice(0, 10), [], `${views.violations.length} invariant violations`)
    assert.equal(views.convergedCount(), views.upCount, 'members that see every other live member alive')
    for (let o = 0; o < SETTLED_N; o++) {
      for (let a = 0; a < SETTLED_N; a++) {
        if (views.up[o] === 1 && views.up[a] === 1) assert.notEqual(views.code(o, a) & 7, FAILED, `${views.ids[o]} holds live ${views.ids[a]} failed`)
      }
    }
  }))

  it(`${SPAN_N} members joining within 5 s: for ${SPAN_MS / 1000} simulated seconds no invariant breaks and no live member is failed anywhere`, simulate(1, (seed) => {
    const { cluster, views } = createScaleCluster({ seed, size: SPAN_N, lifeguard: true, joinWithinMs: 5000, trackIncarnations: true })
    cluster.net.lossRate = LOSS
    cluster.start()
    cluster.runFor(SPAN_MS)
    assert.deepEqual(views.violations.slice(0, 10), [], `${views.violations.length} invariant violations`)
    let failedMarks = 0
    let known = 0
    for (let o = 0; o < SPAN_N; o++) {
      for (let a = 0; a < SPAN_N; a++) {
        const code = views.code(o, a)
        if ((code & 7) === FAILED) failedMarks++
        if (code === ALIVE) known++
      }
    }
    assert.equal(failedMarks, 0, 'live members marked failed')
    // Not converged yet (that takes minutes at this size), but well on the way.
    assert.ok(known >= 0.5 * SPAN_N * (SPAN_N - 1), `${(100 * known / (SPAN_N * (SPAN_N - 1))).toFixed(1)} % of member pairs know each other alive`)
  }))
})
