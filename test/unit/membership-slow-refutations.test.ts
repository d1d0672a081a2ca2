/**
 * A suspicion is held for three times the slowest refutation (or ack that
 * missed the probe timeout) the node saw lately (suspicionRefutationMult,
 * refutationWindowMs): where refutations take about as long as the minimum
 * suspicion timeout (a starved start), that minimum would mark live members
 * failed. Crash evidence (a refused connection) is not held, nor is a late
 * ack from a member failed meanwhile counted, and a calm minute later the
 * minimum applies again.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Wire } from './membership-harness.ts'
import { createRefutationWindow, noteRefutation, slowestRefutationMs } from '../../membership/refutation-window.ts'
import type { MembershipConfig, Message } from '../../membership/index.ts'

const IDS = ['a', 'b', 'c', 'd', 'e', 'f']
/** n = 6 on lan: minimum suspicion timeout 4 s, maximum 24 s. */
const MIN_MS = 4000

function cluster (config: Partial<MembershipConfig> = {}): Wire {
  const wire = new Wire(config)
  for (const id of IDS) wire.add(id)
  wire.joinAll()
  return wire
}

/** f goes silent, a suspects it, f wakes `silentMs` after that and refutes: returns how long a's suspicion lasted. */
function slowRefutation (wire: Wire, silentMs: number): number {
  wire.silent.add('f')
  assert.ok(wire.advanceUntil(() => wire.status('a', 'f') === 'suspect', 30_000), 'a suspects f')
  const suspectedAt = wire.now
  wire.advance(silentMs)
  wire.silent.delete('f')
  assert.ok(wire.advanceUntil(() => wire.status('a', 'f') === 'alive', 10_000), 'f refutes')
  return wire.now - suspectedAt
}

/**
 * f goes silent (or refuses connections) for good: how long a suspects it
 * before it is failed. f again, since every other member saw its slow
 * refutation; f itself did not (it cannot tell how long it was suspected), and
 * its own verdict on another member would come at the minimum timeout.
 */
function crash (wire: Wire, how: 'silent' | 'refusing' = 'silent'): number {
  wire[how].add('f')
  assert.ok(wire.advanceUntil(() => wire.status('a', 'f') === 'suspect' || wire.status('a', 'f') === 'failed', 30_000), 'a suspects f')
  const suspectedAt = wire.now
  assert.ok(wire.advanceUntil(() => wire.status('a', 'f') === 'failed', 60_000), 'a fails f')
  return wire.now - suspectedAt
}

/**
 * The first member a probes answers too late: its acks to a are held back,
 * and so are a's requests for indirect probes of it, so a suspects it; the
 * ack reaches a `lateMs` after its ping after all. Meanwhile it refutes at
 * once (the rest of the wire is fast) or, `frozen`, stops altogether until
 * then (a SIGSTOP: declared failed, it rejoins). Returns the slow member, with
 * every message flowing again.
 */
function lateAck (wire: Wire, lateMs: number, frozen = false): string {
  let slow: string | undefined
  const held: Array<{ at: number, msg: Message }> = []
  wire.drop = ({ at, from, to, msg }) => {
    if (to.id === 'a' && msg.type === 'ack' && from !== 'f' && (slow ?? from) === from) {
      slow = from
      held.push({ at, msg })
      if (frozen) wire.silent.add(from)
      return true
    }
    return from === 'a' && msg.type === 'ping-req' && msg.target === slow
  }
  assert.ok(wire.advanceUntil(() => slow != null && wire.core('a').stats().probeFailures > 0, 30_000), 'a\'s probe of the slow member failed')
  wire.drop = () => false
  const first = held[0]
  // the ping went out just before its ack was held: zero latency
  wire.advanceTo(first.at + lateMs)
  wire.silent.delete(slow!)
  wire.input('a', (core, now) => core.receive(now, slow!, first.msg))
  assert.ok(wire.advanceUntil(() => IDS.every(id => wire.status(id, slow!) === 'alive' || id === slow), 10_000), 'the slow member is alive again everywhere')
  assert.equal(wire.eventsOf('b', 'member:failed', slow).length, frozen ? 1 : 0, frozen ? 'frozen, it was failed' : 'it was never failed')
  return slow!
}

/**
 * suspicionMult 2: no confirmations awaited, so a alone fails a member at the
 * minimum timeout, 2 s (12 s at most). No first-ack patience: the slow member
 * refuted lately and has no ack on record, so a would probe it patiently
 * (membership/probe-clock.ts), suspect it later and, its local health high
 * by then with everyone silent, stretch the suspicion to the maximum; what
 * is measured here is the hold alone.
 */
const ALONE: Partial<MembershipConfig> = { suspicionMult: 2, firstAckPatienceMs: 0 }

/**
 * Every member but a goes silent: how long a suspects `id` before it fails
 * it. Only a slow ack a saw itself holds its verdict, and with the others
 * gone, no verdict of theirs reaches it first.
 */
function failedByAAlone (wire: Wire, id: string): number {
  for (const other of IDS) if (other !== 'a') wire.silent.add(other)
  assert.ok(wire.advanceUntil(() => wire.status('a', id) === 'suspect', 30_000), `a suspects ${id}`)
  const suspectedAt = wire.now
  assert.ok(wire.advanceUntil(() => wire.status('a', id) === 'failed', 60_000), `a fails ${id}`)
  return wire.now - suspectedAt
}

const held = (wire: Wire): number => IDS.reduce((sum, id) => sum + wire.core(id).stats().suspicionsHeld, 0)

describe('membership core: suspicions held while refutations are slow', () => {
  it('after a refutation that took 3.5 s, a member gone silent is failed no sooner than three times that', () => {
    const wire = cluster()
    const span = slowRefutation(wire, 3500)
    assert.ok(span >= 3500 && span < MIN_MS, `f refuted ${span} ms after a suspected it, within the minimum timeout`)
    assert.equal(wire.status('b', 'f'), 'alive')
    wire.advance(2000)
    const took = crash(wire)
    assert.ok(took >= 3 * 3500 - 500, `f failed ${took} ms after a suspected it`)
    assert.ok(took < 24_000, 'never past the maximum timeout')
    assert.ok(held(wire) > 0, 'counted')
  })

  it('off (suspicionRefutationMult 0): the minimum timeout as before', () => {
    const wire = cluster({ suspicionRefutationMult: 0 })
    slowRefutation(wire, 3500)
    const took = crash(wire)
    assert.ok(took <= MIN_MS + 500, `f failed ${took} ms after a suspected it`)
    assert.equal(held(wire), 0)
  })

  it('crash evidence is not held: a refused connection fails the member in the refused window', () => {
    const wire = cluster()
    slowRefutation(wire, 3500)
    const took = crash(wire, 'refusing')
    assert.ok(took <= wire.config.refusedSuspicionTimeoutMs + wire.config.probeIntervalMs, `f failed ${took} ms after a suspected it`)
  })

  it('a refutation that reached a only after a long stall of its own (SIGSTOP) is not counted: it measured the stall', () => {
    const wire = cluster()
    wire.silent.add('f')
    assert.ok(wire.advanceUntil(() => wire.status('a', 'f') === 'suspect', 30_000), 'a suspects f')
    wire.silent.add('a')
    wire.advance(2000)
    wire.silent.delete('f')
    wire.advance(4000)
    wire.silent.delete('a')
    assert.ok(wire.advanceUntil(() => wire.status('a', 'f') === 'alive', 10_000), 'a hears that f refuted')
    wire.advance(2000)
    crash(wire)
    assert.equal(wire.core('a').stats().suspicionsHeld, 0, 'a held nothing for a span of 6 s')
  })

  it('an ack that came 3.5 s after its ping, too late for the probe, holds the next suspicion as a slow refutation would', () => {
    const wire = cluster(ALONE)
    const took = failedByAAlone(wire, lateAck(wire, 3500))
    assert.ok(took >= 3 * 3500 - 500 && took < 12_000, `failed ${took} ms after a suspected it`)
  })

  it('a late ack from a member declared failed meanwhile (a frozen process that resumed) is not counted', () => {
    const wire = cluster(ALONE)
    const took = failedByAAlone(wire, lateAck(wire, 30_000, true))
    assert.ok(took <= 2000 + 500, `failed ${took} ms after a suspected it`)
  })

  it('a refutation window later, the minimum timeout again', () => {
    const wire = cluster()
    slowRefutation(wire, 3500)
    wire.advance(wire.config.refutationWindowMs)
    const took = crash(wire)
    assert.ok(took <= MIN_MS + 500, `f failed ${took} ms after a suspected it`)
  })
})

describe('refutation window', () => {
  it('gives the longest span that ended within the window', () => {
    const w = createRefutationWindow()
    assert.equal(slowestRefutationMs(w, 0, 1000), 0, 'none yet')
    noteRefutation(w, 0, 300)
    noteRefutation(w, 100, 500)
    noteRefutation(w, 200, 200)
    assert.equal(slowestRefutationMs(w, 200, 1000), 500)
    assert.equal(slowestRefutationMs(w, 1100, 1000), 500, 'the 500 ended at 100: still in the window at 1100')
    assert.equal(slowestRefutationMs(w, 1101, 1000), 200, 'then the 200 that ended after it')
    assert.equal(slowestRefutationMs(w, 1201, 1000), 0)
  })

  it('ignores spans that are not positive finite numbers, and stays bounded', () => {
    const w = createRefutationWindow()
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) noteRefutation(w, 0, bad)
    assert.equal(slowestRefutationMs(w, 0, 1000), 0)
    // Ever shorter spans each keep a place (any could become the longest); at most 64.
    for (let i = 0; i < 1000; i++) noteRefutation(w, i, 10_000 - i)
    assert.ok(w.ms.length <= 64)
    assert.equal(slowestRefutationMs(w, 999, 100_000), 10_000 - 936, 'the oldest went first')
  })
})
