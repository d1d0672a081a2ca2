// @ts-nocheck: a frozen copy of membership/probe.ts before the flat-cost index (membership-flat-lockstep.test.ts)
/**
 * Failure detection: SWIM probes with Lifeguard's nacks and local health.
 *
 * A probe pings the target directly; without an ack by the (health-scaled)
 * probe timeout it asks `indirectChecks` alive members to ping it too
 * (ping-req with nack). Without an ack from any path by the end of the
 * (health-scaled) probe interval the target becomes suspect. A refused
 * connection is crash evidence and suspects at once, with a short timeout.
 */
import { signAccusation } from '../../../membership/signatures.ts'
import type { DeliveryFailure, Destination, MemberId, Message, Update } from '../../../membership/types.ts'
import { confirmSuspicion } from './suspicion.ts'
import { countMissedNacks } from '../../../membership/missed-nacks.ts'
import { pickRandom, shuffle } from '../../../membership/random.ts'
import { suspectLocally, withdrawRefusedSuspicion } from './apply.ts'
import {
  aliveUpdate, destinationOf, isLive, isSelfLeft, MAX_RELAYS, nextSeq, piggyback, ringNeighbours, ringSuccessors, send,
  pathFailed, type MemberRecord, type Probe, type State
} from './state.ts'

type Ping = Extract<Message, { type: 'ping' }>
type PingReq = Extract<Message, { type: 'ping-req' }>
type Ack = Extract<Message, { type: 'ack' }>
type Nack = Extract<Message, { type: 'nack' }>

/** Share of the probe timeout an intermediary waits before sending a nack. */
const NACK_FRACTION = 0.8

function probing (state: State, id: MemberId): boolean {
  for (const p of state.probes.values()) if (p.target === id) return true
  return false
}

/** Buddy system: a ping to a member we suspect carries the suspicion first, so it can refute at once. */
function buddyUpdates (state: State, rec: MemberRecord | undefined): Update[] {
  if (rec == null || rec.member.status !== 'suspect') return []
  return [signAccusation(state, { type: 'suspect', id: rec.member.id, incarnation: rec.member.incarnation, from: state.self.id })]
}

export function startProbe (state: State, rec: MemberRecord): void {
  const now = state.now
  const seq = nextSeq(state)
  const probe: Probe = {
    seq,
    target: rec.member.id,
    incarnation: rec.member.incarnation,
    startedAt: now,
    indirectAt: now + state.awareness.scale(state.config.probeTimeoutMs),
    deadline: now + state.awareness.scale(state.config.probeIntervalMs),
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
 * (taken afresh each round, so members that join or fail move the round along).
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

/** Last check of a suspect before its suspicion runs out (see core.ts verifyAt). */
export function verifySuspect (state: State, rec: MemberRecord): void {
  if (isSelfLeft(state) || rec.member.status !== 'suspect' || probing(state, rec.member.id)) return
  if (ringNeighbours(state)?.includes(rec.member.id) === false) return
  startProbe(state, rec)
}

function sendIndirect (state: State, probe: Probe): void {
  probe.indirectSent = true
  pathFailed(state, probe.target)
  // With the ring, the neighbourhood: members we hold a connection to, and the
  // target's other predecessors, who probe it themselves, are among them.
  // kept in step with membership/probe.ts: members heard from lately first, and only their nacks expected
  const since = state.now - 5 * state.config.probeIntervalMs
  const heard = (id: MemberId): boolean => (state.heardAt.get(id) ?? -Infinity) >= since
  const neighbours = ringNeighbours(state)
  const pool = new Set(neighbours ?? state.members.keys())
  if (neighbours != null) for (const id of state.heardAt.keys()) if (heard(id)) pool.add(id)
  const candidates: MemberId[] = []
  for (const id of pool) {
    if (id !== probe.target && state.members.get(id)?.member.status === 'alive') candidates.push(id)
  }
  const probers = new Set(ringSuccessors(state) == null ? [] : state.ring.predecessorsOf(probe.target, state.config.probeNeighbors))
  const rank = (id: MemberId): number => (heard(id) ? 0 : 2) + (probers.has(id) ? 0 : 1)
  const k = state.config.indirectChecks
  const chosen: MemberId[] = []
  for (let r = 0; r < 4 && chosen.length < k; r++) {
    chosen.push(...pickRandom(state.random, candidates.filter(id => rank(id) === r), k - chosen.length))
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
  state.stats.probeFailures++
  // kept in step with membership/probe.ts: Lifeguard's missed nacks, those of intermediaries cut off from us not counted
  countMissedNacks(state, probe)
  const rec = state.members.get(probe.target)
  if (rec == null || !isLive(rec.member)) return
  suspectLocally(state, rec, probe.incarnation, probe.refused)
  // Each nack is a member that tried the target over its own path and got nothing:
  // an independent witness, so it counts as a confirmation and shortens the timeout
  // just as a suspicion gossiped by that member would (it will not raise one itself).
  if (rec.member.status === 'suspect' && rec.suspicion != null) {
    for (const witness of probe.nacks) confirmSuspicion(rec.suspicion, witness)
  }
}

/** Runs due probe steps: indirect fallbacks, failures; relays' nacks and expiry. */
export function tickProbes (state: State): void {
  const now = state.now
  for (const probe of [...state.probes.values()]) {
    if (!probe.indirectSent && now >= probe.indirectAt) sendIndirect(state, probe)
    if (now >= probe.deadline) probeFailed(state, probe)
  }
  for (const [seq, relay] of [...state.relays]) {
    if (relay.nack && !relay.nackSent && now >= relay.nackAt) {
      relay.nackSent = true
      pathFailed(state, relay.target)
      send(state, destinationOf(state, relay.origin), { type: 'nack', seq: relay.originSeq, reason: 'timeout', updates: piggyback(state, relay.origin) })
    }
    if (now >= relay.expiresAt) state.relays.delete(seq)
  }
}

export function probeDeadline (state: State): number {
  let d = Infinity
  for (const p of state.probes.values()) d = Math.min(d, p.indirectSent ? p.deadline : Math.min(p.indirectAt, p.deadline))
  for (const r of state.relays.values()) d = Math.min(d, r.nack && !r.nackSent ? Math.min(r.nackAt, r.expiresAt) : r.expiresAt)
  return d
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
  const now = state.now
  const seq = nextSeq(state)
  const timeout = state.config.probeTimeoutMs
  state.relays.set(seq, {
    origin: from,
    originSeq: msg.seq,
    target: msg.target,
    nack: msg.nack,
    nackAt: now + Math.floor(timeout * NACK_FRACTION),
    nackSent: false,
    // Keep relaying a late ack until the origin's probe is surely over.
    expiresAt: now + state.config.probeIntervalMs
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
      if (reason !== 'refused' || probe.refused) return
      // The host answered but nothing listens: the process is gone (or moved). Suspect
      // now with the short refused timeout; the ping-reqs let a live node be vouched for.
      refusedEvidence(state, probe)
      if (!probe.indirectSent) sendIndirect(state, probe)
      return
    }
    const relay = state.relays.get(msg.seq)
    if (relay != null && relay.target === msg.target && reason === 'refused' && relay.nack && !relay.nackSent) {
      relay.nackSent = true
      send(state, destinationOf(state, relay.origin), { type: 'nack', seq: relay.originSeq, reason: 'refused', updates: piggyback(state, relay.origin) })
    }
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
