/**
 * Failure detection: SWIM probes with Lifeguard's nacks and local health.
 *
 * A probe pings the target directly; without an ack by the (health-scaled)
 * probe timeout it asks `indirectChecks` alive members to ping it too
 * (ping-req with nack). Without an ack from any path by the end of the
 * (health-scaled) probe interval the target becomes suspect; a target that
 * acked slowly lately gets as much longer (probe-clock.ts). A refused
 * connection is crash evidence and suspects at once, with a short timeout.
 *
 * Over a connection-oriented transport a ping to a member with no connection
 * waits for a handshake, which on a starved host (many members starting
 * together) takes longer than the whole probe interval. Such a ping has not
 * left, so the probe's clock (and a relay's nack) waits until it goes out or
 * the connection fails (connectingUntil; docs/design.md).
 */
import { signAccusation } from './signatures.ts'
import type { DeliveryFailure, Destination, MemberId, Message, Update } from './types.ts'
import { confirmSuspicion } from './suspicion.ts'
import { pickRandom, shuffle } from './random.ts'
import { noteProofOfLife, suspectLocally, withdrawRefusedSuspicion } from './merge.ts'
import {
  aliveUpdate, destinationOf, isLive, isSelfLeft, MAX_RELAYS, nextSeq, piggyback, send, pathFailed, type MemberRecord, type Probe, type Relay, type State
} from './state.ts'
import { ringNeighbours, ringProbersOf, ringSuccessors } from './ring-view.ts'
import { touchSuspicion } from './member-index.ts'
import { indirectPhaseMs, noteDirectAck, probeClock, relayClock } from './probe-clock.ts'
import { setNewest } from './bounded-map.ts'
import { countMissedNacks } from './missed-nacks.ts'

type Ping = Extract<Message, { type: 'ping' }>
type PingReq = Extract<Message, { type: 'ping-req' }>
type Ack = Extract<Message, { type: 'ack' }>
type Nack = Extract<Message, { type: 'nack' }>

/** Failed probes remembered for a late ack (about a minute of probes at the lan interval). */
const MAX_FAILED_PROBES = 64
/** An indirect probe goes first through members heard from within this many probe intervals. */
const HEARD_LATELY_INTERVALS = 5

/** True while a probe of `id` is in flight. */
export function probing (state: State, id: MemberId): boolean {
  for (const p of state.probes.values()) if (p.target === id) return true
  return false
}

/** Buddy system: a ping to a member we suspect carries the suspicion first, so it can refute at once. */
function buddyUpdates (state: State, rec: MemberRecord | undefined): Update[] {
  if (rec == null || rec.member.status !== 'suspect') return []
  return [signAccusation(state, { type: 'suspect', id: rec.member.id, incarnation: rec.member.incarnation, from: state.self.id })]
}

export function startProbe (state: State, rec: MemberRecord): void {
  const seq = nextSeq(state)
  const probe: Probe = {
    seq,
    target: rec.member.id,
    incarnation: rec.member.incarnation,
    startedAt: state.now,
    ...probeClock(state, rec.member.id),
    indirectSent: false,
    intermediaries: new Set(),
    nacks: new Set(),
    unreachable: new Set(),
    expectedNacks: 0,
    refused: false
  }
  state.probes.set(seq, probe)
  state.stats.probesSent++
  send(state, destinationOf(state, rec.member.id), {
    type: 'ping', seq, target: rec.member.id, updates: piggyback(state, rec.member.id, buddyUpdates(state, rec))
  })
}

/**
 * Randomized round-robin: the next alive or suspect member not already being
 * probed, among every member or, with the ring, among this node's successors
 * (taken afresh each round, so members that join or fail move the round along;
 * one that stopped being a successor during the round is passed over).
 */
export function probeNext (state: State): void {
  let reshuffled = false
  const successors = ringSuccessors(state)
  for (;;) {
    if (state.probeIndex >= state.probeOrder.length) {
      if (reshuffled) return
      reshuffled = true
      state.probeOrder = shuffle(state.random, ringSuccessors(state) ??
        [...state.members.values()].filter(r => isLive(r.member)).map(r => r.member.id))
      state.probeIndex = 0
      if (state.probeOrder.length === 0) return
    }
    const id = state.probeOrder[state.probeIndex++]
    const rec = state.members.get(id)
    if (rec == null || !isLive(rec.member) || probing(state, id) || successors?.includes(id) === false) continue
    startProbe(state, rec)
    return
  }
}

/**
 * Probe a member now, out of turn: its connection just closed. Suspect members
 * too: someone else's suspicion may have arrived first, and our own probe can
 * bring the crash evidence (refused) or provoke the refutation (buddy ping).
 */
export function probeSoon (state: State, id: MemberId): void {
  if (isSelfLeft(state)) return
  const rec = state.members.get(id)
  if (rec == null || !isLive(rec.member) || probing(state, id)) return
  // With the ring, a member is watched by its predecessors: a connection to anyone else
  // may close for idleness, and probing it would only dial it again.
  if (ringSuccessors(state)?.includes(id) === false) return
  startProbe(state, rec)
}

/**
 * Last check of a suspect before its suspicion runs out (see timers.ts
 * verifyAt). With the ring only by the suspect's neighbours, who hold a
 * connection to it: a suspicion reaches every member, and a check by each
 * would be N dials of the one member that is likely starved already (in a
 * 50-agent start, over a third of all probes: docs/scale.md). The others
 * hear the refutation from their neighbours.
 */
export function verifySuspect (state: State, rec: MemberRecord): void {
  if (isSelfLeft(state) || rec.member.status !== 'suspect' || probing(state, rec.member.id)) return
  if (ringNeighbours(state)?.includes(rec.member.id) === false) return
  startProbe(state, rec)
}

function sendIndirect (state: State, probe: Probe): void {
  probe.indirectSent = true
  pathFailed(state, probe.target)
  // With the ring, the neighbourhood: members we hold a connection to. Those we
  // heard from lately come first, and only their nacks are expected: one cut off
  // from us (a partition's other side, not suspected yet) sends none, and its
  // silence says nothing about our health; counting it (Lifeguard) stretched the
  // probes of a member whose successors were all cut off eightfold
  // (docs/neighbourhood.md). A nack is also a confirmation of the suspicion.
  // Among them, the target's other predecessors first: they probe it themselves,
  // so they hold a connection to it, where anyone else would have to dial it (a
  // handshake on both sides, and while members start together a probe that
  // timed out is often a starved target, not a failed one).
  const since = state.now - HEARD_LATELY_INTERVALS * state.config.probeIntervalMs
  const heard = (id: MemberId): boolean => (state.heardAt.get(id) ?? -Infinity) >= since
  const neighbours = ringNeighbours(state)
  // with the ring, also members outside the neighbourhood that talk to us (their connection is open)
  const pool = neighbours == null ? state.members.keys() : new Set([...neighbours, ...[...state.heardAt.keys()].filter(heard)])
  const probers = new Set(ringProbersOf(state, probe.target))
  // By rank: heard fellow probers, heard others, silent fellow probers, silent others.
  const ranked: MemberId[][] = [[], [], [], []]
  for (const id of pool) {
    if (id === probe.target || state.members.get(id)?.member.status !== 'alive') continue
    ranked[(heard(id) ? 0 : 2) + (probers.has(id) ? 0 : 1)].push(id)
  }
  const k = state.config.indirectChecks
  const chosen: MemberId[] = []
  for (const candidates of ranked) {
    if (chosen.length >= k) break
    chosen.push(...pickRandom(state.random, candidates, k - chosen.length))
  }
  const target = state.members.get(probe.target)
  const targetAddrs = target == null ? [] : [...target.member.addrs]
  for (const id of chosen) {
    probe.intermediaries.add(id)
    if (heard(id)) probe.expectedNacks++
    else probe.unreachable.add(id)
    state.stats.indirectProbesSent++
    send(state, destinationOf(state, id), {
      type: 'ping-req', seq: probe.seq, target: probe.target, targetAddrs, nack: true, updates: piggyback(state, id)
    })
  }
}

function probeFailed (state: State, probe: Probe): void {
  state.probes.delete(probe.seq)
  setNewest(state.failedProbes, probe.seq, probe, MAX_FAILED_PROBES)
  state.stats.probeFailures++
  // Lifeguard: nacks tell us the intermediaries were reachable and working; each
  // one missing hints that we are the problem.
  countMissedNacks(state, probe)
  const rec = state.members.get(probe.target)
  if (rec == null || !isLive(rec.member)) return
  suspectLocally(state, rec, probe.incarnation, probe.refused)
  // Each nack is a member that tried the target over its own path and got nothing:
  // an independent witness, so it counts as a confirmation and shortens the timeout
  // just as a suspicion gossiped by that member would (it will not raise one itself).
  if (rec.member.status === 'suspect' && rec.suspicion != null) {
    for (const witness of probe.nacks) confirmSuspicion(rec.suspicion, witness)
    touchSuspicion(state, rec)
  }
}

/** Runs due probe steps: indirect fallbacks, failures; relays' nacks and expiry. */
export function tickProbes (state: State): void {
  const now = state.now
  for (const probe of [...state.probes.values()]) {
    if (probe.connectingUntil != null) {
      if (now < probe.connectingUntil) continue
      // the transport never said: go on as if the ping were lost
      connectFailed(state, probe)
    }
    if (!probe.indirectSent && now >= probe.indirectAt) sendIndirect(state, probe)
    if (now >= probe.deadline) probeFailed(state, probe)
  }
  for (const [seq, relay] of [...state.relays]) {
    if (relay.connectingUntil != null) {
      if (now < relay.connectingUntil) continue
      relay.connectingUntil = undefined
    }
    if (relay.nack && !relay.nackSent && now >= relay.nackAt) sendNack(state, relay, 'timeout')
    if (now >= relay.expiresAt) state.relays.delete(seq)
  }
}

function sendNack (state: State, relay: Relay, reason: DeliveryFailure): void {
  relay.nackSent = true
  if (reason !== 'refused') pathFailed(state, relay.target)
  send(state, destinationOf(state, relay.origin), { type: 'nack', seq: relay.originSeq, reason, updates: piggyback(state, relay.origin) })
}

export function probeDeadline (state: State): number {
  let d = Infinity
  for (const p of state.probes.values()) {
    d = Math.min(d, p.connectingUntil ?? (p.indirectSent ? p.deadline : Math.min(p.indirectAt, p.deadline)))
  }
  for (const r of state.relays.values()) {
    d = Math.min(d, r.connectingUntil ?? (r.nack && !r.nackSent ? Math.min(r.nackAt, r.expiresAt) : r.expiresAt))
  }
  return d
}

/** Our ping waits for a connection being set up: the probe (or relay) holds its clock. */
export function onConnecting (state: State, msg: Message): void {
  if (msg.type !== 'ping') return
  const until = state.now + state.config.probeConnectWaitMs
  const probe = state.probes.get(msg.seq)
  if (probe != null && probe.target === msg.target) {
    if (!probe.indirectSent) probe.connectingUntil = until
    return
  }
  const relay = state.relays.get(msg.seq)
  if (relay != null && relay.target === msg.target && !relay.nackSent) relay.connectingUntil = until
}

/** A ping that waited for a connection went out: its probe (or relay) starts the clock now. */
export function onSentAfterConnecting (state: State, msg: Message): void {
  if (msg.type !== 'ping') return
  const probe = state.probes.get(msg.seq)
  if (probe != null && probe.target === msg.target) {
    if (probe.connectingUntil == null) return
    probe.connectingUntil = undefined
    probe.startedAt = state.now
    Object.assign(probe, probeClock(state, probe.target))
    return
  }
  const relay = state.relays.get(msg.seq)
  if (relay != null && relay.target === msg.target && relay.connectingUntil != null) {
    relay.connectingUntil = undefined
    Object.assign(relay, relayClock(state, relay.target))
  }
}

/**
 * The connection our ping waited for failed (or never came): now the silence
 * counts. The intermediaries get the rest of a probe interval, as after a
 * ping that went out and was lost.
 */
function connectFailed (state: State, probe: Probe): void {
  probe.connectingUntil = undefined
  probe.deadline = Math.max(probe.deadline, state.now + indirectPhaseMs(state, probe.target))
  if (!probe.indirectSent) sendIndirect(state, probe)
}

export function onPing (state: State, from: MemberId, msg: Ping): void {
  if (msg.target !== state.self.id) {
    // Meant for another member (stale address): do not vouch for it.
    state.stats.messagesIgnored++
    return
  }
  send(state, destinationOf(state, from), { type: 'ack', seq: msg.seq, updates: piggyback(state, from) })
}

export function onPingReq (state: State, from: MemberId, msg: PingReq): void {
  if (msg.target === state.self.id || msg.target === from || state.relays.size >= MAX_RELAYS) {
    state.stats.messagesIgnored++
    return
  }
  const seq = nextSeq(state)
  state.relays.set(seq, {
    origin: from,
    originSeq: msg.seq,
    target: msg.target,
    nack: msg.nack,
    nackSent: false,
    ...relayClock(state, msg.target)
  })
  const rec = state.members.get(msg.target)
  const addrs = msg.targetAddrs.length > 0 ? [...msg.targetAddrs] : rec == null ? [] : [...rec.member.addrs]
  send(state, { id: msg.target, addrs }, { type: 'ping', seq, target: msg.target, updates: piggyback(state, msg.target, buddyUpdates(state, rec)) })
}

export function onAck (state: State, from: MemberId, msg: Ack): void {
  const probe = state.probes.get(msg.seq)
  if (probe != null) {
    if (from !== probe.target && !probe.intermediaries.has(from)) {
      state.stats.messagesIgnored++
      return
    }
    state.probes.delete(msg.seq)
    state.awareness.apply(-1)
    noteAckSpan(state, probe, from)
    const rec = state.members.get(probe.target)
    if (rec != null && rec.refused) withdrawRefusedSuspicion(state, rec)
    return
  }
  const relay = state.relays.get(msg.seq)
  if (relay != null && from === relay.target) {
    state.relays.delete(msg.seq)
    // Lead with what we know of the target: an origin that still suspects an
    // incarnation the target already refuted learns the refutation right here.
    const target = state.members.get(relay.target)
    const first = target != null && target.member.status === 'alive' ? [aliveUpdate(state, target.member)] : []
    send(state, destinationOf(state, relay.origin), { type: 'ack', seq: relay.originSeq, updates: piggyback(state, relay.origin, first) })
    return
  }
  // Unknown or expired sequence number (typically an ack that arrived too late).
  state.stats.messagesIgnored++
  // Too late for its probe, still a measure of how slow answers are; not from a
  // member we declared failed since (a frozen process that resumed: a refutation
  // that did not come in time is no guide to the next one).
  const failed = state.failedProbes.get(msg.seq)
  if (failed != null && (from === failed.target || failed.intermediaries.has(from))) {
    state.failedProbes.delete(msg.seq)
    if (state.members.get(failed.target)?.member.status !== 'failed') noteAckSpan(state, failed, from)
  }
}

/**
 * What an ack's span (from the ping) says. One that missed the probe timeout
 * is a proof of life that took this long, as a refutation is: the suspicions
 * this node raises are held for it (timers.ts heldForSlowRefutations), so that
 * where answers are slow (a host starved by members starting together) a
 * verdict waits for them. The target's own ack, not one relayed, sets how
 * patient the next probe of it is (probe-clock.ts).
 */
function noteAckSpan (state: State, probe: Probe, from: MemberId): void {
  if (state.now - probe.startedAt > state.config.probeTimeoutMs) noteProofOfLife(state, probe.startedAt)
  if (from === probe.target) noteDirectAck(state, from, probe.startedAt)
}

export function onNack (state: State, from: MemberId, msg: Nack): void {
  const probe = state.probes.get(msg.seq)
  if (probe == null || !probe.intermediaries.has(from)) {
    state.stats.messagesIgnored++
    return
  }
  probe.nacks.add(from)
  // The intermediary's own ping was refused: the same crash evidence as ours.
  if (msg.reason === 'refused') refusedEvidence(state, probe)
}

/** A ping of the probe target was refused: suspect at once with the short refused timeout. */
function refusedEvidence (state: State, probe: Probe): void {
  if (probe.refused) return
  probe.refused = true
  const rec = state.members.get(probe.target)
  if (rec != null && isLive(rec.member)) suspectLocally(state, rec, probe.incarnation, true)
}

/** The transport could not deliver one of our probe messages. */
export function onDeliveryFailed (state: State, to: Destination, msg: Message, reason: DeliveryFailure): void {
  if (msg.type === 'ping') {
    const probe = state.probes.get(msg.seq)
    if (probe != null && probe.target === msg.target) {
      if (probe.connectingUntil != null) connectFailed(state, probe)
      if (reason !== 'refused' || probe.refused) return
      // The host answered but nothing listens: the process is gone (or moved). Suspect
      // now with the short refused timeout; the ping-reqs let a live node be vouched for.
      refusedEvidence(state, probe)
      if (!probe.indirectSent) sendIndirect(state, probe)
      return
    }
    const relay = state.relays.get(msg.seq)
    if (relay == null || relay.target !== msg.target) return
    // a ping that waited for a connection and did not get one was tried and got nothing
    const waited = relay.connectingUntil != null
    relay.connectingUntil = undefined
    if (relay.nack && !relay.nackSent && (reason === 'refused' || waited)) sendNack(state, relay, reason)
    return
  }
  if (msg.type === 'ping-req') {
    // An intermediary we cannot reach will not nack; that says nothing about our own health.
    const probe = state.probes.get(msg.seq)
    if (probe != null && to.id != null && probe.intermediaries.has(to.id) && !probe.nacks.has(to.id) && !probe.unreachable.has(to.id)) {
      probe.unreachable.add(to.id)
      probe.expectedNacks = Math.max(0, probe.expectedNacks - 1)
    }
  }
}
