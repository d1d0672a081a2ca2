// @ts-nocheck: a frozen copy of membership/state.ts before the flat-cost index (membership-flat-lockstep.test.ts)
/**
 * The core's internal state and the small helpers every concern shares:
 * emitting effects, piggybacking, counting members, copying records.
 */
import type { MembershipConfig } from '../../../membership/config.ts'
import type { MembershipStats } from '../../../membership/index.ts'
import type { Destination, Effect, Member, MemberEventType, MemberId, Message, Random, SyncEntry, Update } from '../../../membership/types.ts'
import type { Awareness } from './awareness.ts'
import type { BroadcastQueue } from '../../../membership/broadcasts.ts'
import type { Suspicion } from './suspicion.ts'
import type { PartitionState } from '../../../membership/partition.ts'
import type { Signer } from '../../../membership/signatures.ts'
import type { Ring } from '../../../membership/neighbors.ts'
import { selfAliveSignature, signAccusation } from '../../../membership/signatures.ts'
import { retransmitLimit } from '../../../membership/formulas.ts'

export interface MemberRecord {
  member: Member
  /** Running while the member is suspect. */
  suspicion?: Suspicion
  /** The member's process refused a connection since it was last known alive: crash evidence. */
  refused: boolean
  /** Last time we told this (suspect or failed) member what we think of it. */
  lastToldAt: number
  /** The member's signed alive we applied last, relayed with it (signatures.ts). */
  claim?: { incarnation: number, signature: Uint8Array }
  /** The member's signature of its leave, once it left. */
  leaveSignature?: Uint8Array
}

/** A probe this node is running (direct ping, then ping-req through others). */
export interface Probe {
  seq: number
  target: MemberId
  /** The target's incarnation when the probe started: a failed probe suspects that one. */
  incarnation: number
  startedAt: number
  /** When to fall back to indirect probes. */
  indirectAt: number
  /** End of the probe: no ack by then means failure. */
  deadline: number
  indirectSent: boolean
  intermediaries: Set<MemberId>
  nacks: Set<MemberId>
  /** Intermediaries our ping-req could not reach: no nack is expected from them. */
  unreachable: Set<MemberId>
  expectedNacks: number
  /** The direct ping was refused. */
  refused: boolean
}

/** A ping this node sends on behalf of a ping-req. */
export interface Relay {
  origin: MemberId
  originSeq: number
  target: MemberId
  nack: boolean
  nackAt: number
  nackSent: boolean
  expiresAt: number
}

export interface Tombstone {
  incarnation: number
  bootId: string
}

export interface State {
  readonly config: MembershipConfig
  readonly random: Random
  self: Member
  /** Every other known member. */
  members: Map<MemberId, MemberRecord>
  awareness: Awareness
  broadcasts: BroadcastQueue
  /** Reaped members: stale updates about them are ignored. Bounded, oldest dropped first. */
  tombstones: Map<MemberId, Tombstone>
  stats: Omit<MembershipStats, 'localHealth'>
  /** Effects of the call in progress. */
  out: Effect[]
  /** Time of the call in progress. */
  now: number
  /** Set while handling a message that accused us with an incarnation we already refuted. */
  staleAccusation: boolean
  seq: number
  /** Live members ordered by ring key: whom this node probes and gossips to (neighbors.ts). */
  ring: Ring
  probeOrder: MemberId[]
  probeIndex: number
  nextProbeAt: number
  probes: Map<number, Probe>
  relays: Map<number, Relay>
  nextGossipAt: number
  nextPushPullAt: number
  /** After a join, the gap before the push-pull after next (doubling; 0 once it reaches the period). */
  earlyPushPullGapMs: number
  /** Next sync attempt with a failed member (partition healing). */
  nextReconnectAt: number
  /** Stable membership, side and partition episode (partition.ts). */
  partition: PartitionState
  /** Signs and checks claims (signatures.ts); none: nothing signed or checked. */
  signer?: Signer
  /** Memo of this node's alive signature, keyed by the signed payload. */
  selfSigned?: { key: string, signature: Uint8Array }
  /** This node's signature of its own leave. */
  selfLeaveSignature?: Uint8Array
  /**
   * Joining: seeds to contact, when to retry, the retry delay after a failed
   * delivery and the wait for an answer (each doubles after its kind of failure).
   */
  join?: { seeds: Destination[], nextRetryAt: number, backoffMs: number, unansweredMs: number }
}

export const MAX_TOMBSTONES = 1024
export const MAX_RELAYS = 1024

export function copyMember (m: Member): Member {
  const copy: Member = { ...m, addrs: [...m.addrs], tags: { ...m.tags } }
  if (copy.status === 'alive') delete copy.cause
  return copy
}

export function isSelfLeft (state: State): boolean {
  return state.self.status === 'left'
}

export function isLive (m: Member): boolean {
  return m.status === 'alive' || m.status === 'suspect'
}

/**
 * This node's probe targets on the ring (neighbors.ts): its successors; none
 * (probe every live member in turn) without the ring or while there are no more
 * live members than probeNeighbors.
 */
export function ringSuccessors (state: State): MemberId[] | undefined {
  const m = state.config.probeNeighbors
  // mirrors membership/state.ts: suspect successors not counted
  return m > 0 && state.ring.size > m ? state.ring.successors(m, id => state.members.get(id)?.member.status === 'suspect') : undefined
}

/**
 * The members this node gossips to, syncs with and asks for indirect probes
 * (neighbors.ts); none (every member) without the ring or while the
 * neighbourhood would hold every live member anyway, so that a small cluster
 * behaves exactly as memberlist.
 */
export function ringNeighbours (state: State): MemberId[] | undefined {
  const { probeNeighbors: m, longLinks } = state.config
  return m > 0 && state.ring.size > 2 * m + longLinks ? state.ring.neighbours(m, longLinks) : undefined
}

/** Asks the transport to try another path to `id` (see the `path-failed` effect). */
export function pathFailed (state: State, id: MemberId): void {
  state.out.push({ kind: 'path-failed', id })
}

export function send (state: State, to: Destination, msg: Message): void {
  state.out.push({ kind: 'send', to, msg })
}

/**
 * Adapters for the live modules this copy shares (partition.ts), written since
 * members became shared between views (membership/member-states.ts): they
 * replace a record's member rather than change it, and emit by record. Here
 * the member is changed in place, as this copy always did.
 */
export function changeMember (state: State, rec: MemberRecord, change: Partial<Member>): Member {
  for (const [key, value] of Object.entries(change)) {
    if (value === undefined) delete rec.member[key]
    else rec.member[key] = value
  }
  return rec.member
}

export function emit (state: State, type: MemberEventType, memberOrRecord: Member | MemberRecord): void {
  const member = 'member' in memberOrRecord ? memberOrRecord.member : memberOrRecord
  if (member.id === state.self.id) return
  state.partition.dirty = true
  state.ring.sync(member.id, isLive(member) && state.members.has(member.id))
  state.out.push({ kind: 'event', event: { type, member: copyMember(member) } })
}

export function destinationOf (state: State, id: MemberId): Destination {
  const rec = state.members.get(id)
  return { id, addrs: rec == null ? [] : [...rec.member.addrs] }
}

export function nextSeq (state: State): number {
  state.seq = state.seq >= Number.MAX_SAFE_INTEGER ? 1 : state.seq + 1
  return state.seq
}

/** Members believed alive or suspect, this node included while it has not left. */
export function liveCount (state: State): number {
  let n = isLive(state.self) ? 1 : 0
  for (const rec of state.members.values()) if (isLive(rec.member)) n++
  return n
}

/** Every known member, this node included. */
export function knownCount (state: State): number {
  return state.members.size + 1
}

/** `first` followed by queued updates, at most maxPiggybackUpdates in all, none that `to` holds (mirrors membership/state.ts). */
export function piggyback (state: State, to: MemberId, first: Update[] = []): Update[] {
  const max = state.config.maxPiggybackUpdates
  const head = first.slice(0, max)
  const limit = retransmitLimit(state.config.retransmitMult, knownCount(state)) + (ringNeighbours(state)?.length ?? 0)
  const exclude = head.length === 0 ? undefined : new Set(head.map(u => u.id))
  return head.concat(state.broadcasts.take(max - head.length, limit, { exclude, to, audience: () => gossipCandidates(state) }))
}

/** Whom a gossip round picks from: the ring neighbourhood, or every live member and the recently failed ones. */
export function gossipCandidates (state: State): MemberId[] {
  const ring = ringNeighbours(state)
  if (ring != null) return ring
  const candidates: MemberId[] = []
  for (const rec of state.members.values()) {
    const m = rec.member
    if (isLive(m) || (m.status === 'failed' && state.now - m.statusSince < state.config.gossipToTheDeadMs)) candidates.push(m.id)
  }
  return candidates
}

/** Queues an update for dissemination. */
export function broadcast (state: State, update: Update): void {
  state.broadcasts.queue(update)
}

/** `m`'s announcement, with its signature when we hold one for exactly this incarnation (signatures.ts). */
export function aliveUpdate (state: State, m: Member): Update {
  const update: Update = { type: 'alive', id: m.id, name: m.name, addrs: [...m.addrs], tags: { ...m.tags }, incarnation: m.incarnation, bootId: m.bootId }
  const signature = aliveSignatureOf(state, m)
  if (signature != null && signature.incarnation === m.incarnation) update.signature = signature.signature
  return update
}

function aliveSignatureOf (state: State, m: Member): { incarnation: number, signature: Uint8Array } | undefined {
  if (m.id === state.self.id) {
    const signature = selfAliveSignature(state)
    return signature == null ? undefined : { incarnation: m.incarnation, signature }
  }
  return state.members.get(m.id)?.claim
}

/** What this node believes about `m`, as an update it can send to `m` itself. */
export function accusationOf (state: State, m: Member): Update | undefined {
  if (m.status === 'suspect') return signAccusation(state, { type: 'suspect', id: m.id, incarnation: m.incarnation, from: state.self.id })
  if (m.status === 'failed') {
    return signAccusation(state, { type: 'dead', id: m.id, incarnation: m.incarnation, from: state.self.id, cause: m.cause ?? 'unreachable' })
  }
  return undefined
}

export function fullState (state: State): SyncEntry[] {
  const entries: SyncEntry[] = [syncEntry(state, state.self, state.selfLeaveSignature)]
  for (const rec of state.members.values()) entries.push(syncEntry(state, rec.member, rec.leaveSignature))
  return entries
}

/** One entry with the signature that vouches for it: the leave of a left member, else the alive. */
function syncEntry (state: State, m: Member, leaveSignature: Uint8Array | undefined): SyncEntry {
  const entry: SyncEntry = { id: m.id, name: m.name, addrs: [...m.addrs], tags: { ...m.tags }, incarnation: m.incarnation, bootId: m.bootId, status: m.status }
  if (m.status === 'left') {
    if (leaveSignature != null) entry.signature = leaveSignature
    return entry
  }
  if (m.id === state.self.id && m.status === 'alive') {
    const signature = selfAliveSignature(state)
    if (signature != null) entry.signature = signature
    return entry
  }
  const claim = aliveSignatureOf(state, m)
  if (claim != null) {
    entry.signature = claim.signature
    if (claim.incarnation !== m.incarnation) entry.signedIncarnation = claim.incarnation
  }
  return entry
}

/**
 * Per-peer rate limit over a bounded map (oldest entries dropped first):
 * true, and records `now`, when `key` was not allowed within the last `gapMs`.
 */
export function allowOnce (map: Map<string, number>, key: string, now: number, gapMs: number, maxEntries = 256): boolean {
  const last = map.get(key)
  if (last != null && now - last < gapMs) return false
  map.delete(key)
  map.set(key, now)
  if (map.size > maxEntries) {
    const oldest = map.keys().next().value
    if (oldest != null) map.delete(oldest)
  }
  return true
}
