/**
 * The core's internal state and the small helpers every concern shares:
 * emitting effects, piggybacking, counting members, copying records. The
 * members by status and deadline (`State.index`) are in member-index.ts.
 */
import type { MembershipConfig } from './config.ts'
import type { MembershipStats } from './index.ts'
import type { Destination, Effect, Member, MemberAnnouncement, MemberEventType, MemberId, Message, Random, SyncEntry, Update } from './types.ts'
import type { Awareness } from './awareness.ts'
import type { BroadcastQueue } from './broadcasts.ts'
import type { Suspicion } from './suspicion.ts'
import type { PartitionState } from './partition-tracking.ts'
import type { Signer } from './signatures.ts'
import type { Ring } from './neighbors.ts'
import type { MemberIndex } from './member-index.ts'
import type { SilentIntermediary } from './missed-nacks.ts'
import type { RefutationWindow } from './refutation-window.ts'
import type { AckSpan } from './probe-clock.ts'
import type { DigestSums } from './digest.ts'
import type { SyncAnswers } from './sync-answers.ts'
import { selfAliveSignature, signAccusation } from './signatures.ts'
import { retransmitLimit } from './formulas.ts'
import { track } from './member-index.ts'
import { ringNeighbours } from './ring-view.ts'
import { memberState, type MemberState } from './member-states.ts'
import type { SharedViews } from './shared-views.ts'
import type { MemberTable } from './member-table.ts'

export interface MemberRecord {
  /** Replaced whole on every change (changeMember), never changed in place: views may share it (member-states.ts). */
  member: MemberState
  /** Core time (ms) of the member's last status change, as this view saw it. */
  statusSince: number
  /** Place in `State.members`' iteration order (its insertion), for walks of the index in that order. */
  order: number
  /** Running while the member is suspect. */
  suspicion?: Suspicion
  /** The member's process refused a connection since it was last known alive: crash evidence. */
  refused: boolean
  /** The member's signature of its leave, once it left (or, forced, `leaveForcedBy`'s). */
  leaveSignature?: Uint8Array
  /** Who forced its leave (an operator's force-leave), when it did not leave itself. */
  leaveForcedBy?: MemberId
  /** The member state counted in `State.digestSums` (digest.ts `resum`). */
  summed: MemberState | undefined
}

/** A probe this node is running (direct ping, then ping-req through others). */
export interface Probe {
  seq: number
  target: MemberId
  /** The target's incarnation when the probe started: a failed probe suspects that one. */
  incarnation: number
  /** When the ping left (after the handshake it waited for, if any): an ack's round trip is counted from here. */
  startedAt: number
  /** When to fall back to indirect probes. */
  indirectAt: number
  /** End of the probe: no ack by then means failure. */
  deadline: number
  indirectSent: boolean
  intermediaries: Set<MemberId>
  nacks: Set<MemberId>
  /** Intermediaries no nack is expected from: not heard from lately, or our ping-req could not reach them. */
  unreachable: Set<MemberId>
  expectedNacks: number
  /** The direct ping was refused. */
  refused: boolean
  /**
   * Set while the direct ping waits for a connection the transport is setting
   * up (its handshake): the ping has not left, so its missing ack is no
   * evidence yet. The probe's timers wait until the ping goes out or the
   * connection fails, or until this time if the transport never says.
   */
  connectingUntil?: number
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
  /** As Probe.connectingUntil: our ping waits for a connection, so there is nothing to nack yet. */
  connectingUntil?: number
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
  members: MemberTable<MemberRecord>
  /** The members by status and deadline, kept as they change (see `track`). */
  index: MemberIndex
  /** The push-pull digest's sums over `members`, kept as they change (see `track`). */
  digestSums: DigestSums
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
  /** Shared time (MembershipOptions.sharedClockNow) minus core time; none: no probe turns (probe-turns.ts). */
  sharedClockOffsetMs?: number
  /** With probe turns, the slot whose turn `nextProbeAt` is. */
  probeSlot: number
  probes: Map<number, Probe>
  /** Probes that failed lately, by seq, so that an ack arriving after all still tells how slow answers are (probe.ts onAck). Bounded, oldest dropped first. */
  failedProbes: Map<number, Probe>
  relays: Map<number, Relay>
  nextGossipAt: number
  nextPushPullAt: number
  /** In an early series of push-pulls, the gap before the one after next (doubling; 0 once it reaches the period): push-pull-schedule.ts. */
  earlyPushPullGapMs: number
  /** Next sync attempt with a failed member (partition healing). */
  nextReconnectAt: number
  /** When a late timer last counted against local health (timers.ts lateTimer). */
  lastLateAt: number
  /** How long proofs of life took lately: refutations of this node's suspicions, and acks that missed the probe timeout (suspicionRefutationMult). */
  refutationSpans: RefutationWindow
  /** The slowest recent ack of each member we probe (probe-clock.ts). Bounded, oldest dropped first. */
  ackSpans: Map<MemberId, AckSpan>
  /** When this process last resumed from a long stall (timers.ts advanceClock): spans across it measure the stall, not the cluster. */
  lastLongStallAt: number
  /** Unknown senders we asked for a sync, and when (sync.ts learnStranger). */
  strangers: Map<MemberId, number>
  /** When members last got our full state on their request, requests waiting for their gap's end, and the allowance (sync-answers.ts). */
  syncAnswers: SyncAnswers
  /** When each member last sent us a message (the latest ones; bounded, oldest dropped first): whom we reach (probe.ts sendIndirect). */
  heardAt: Map<MemberId, number>
  /** Intermediaries whose nack a failed probe missed, until it is known whose silence it was (missed-nacks.ts). Bounded, oldest dropped first. */
  silentIntermediaries: Map<MemberId, SilentIntermediary>
  /** Peers we sent our current announcement because they accused an older incarnation of us (dissemination.ts correctSender). */
  corrected: Map<MemberId, number>
  /**
   * When we last told a suspect or failed member what we think of it
   * (dissemination.ts tellAccused), by id; bounded, oldest dropped first. Not
   * in the record: few members are ever told, and at 10,000 views of 10,000
   * a field of every record is 0.8 GB.
   */
  toldAccused: Map<MemberId, number>
  /** Stable membership, side and partition episode (partition.ts). */
  partition: PartitionState
  /** Signs and checks statements (signatures.ts); none: nothing signed or checked. */
  signer?: Signer
  /** What this core shares with the other cores of its process (shared-views.ts); none: nothing. */
  shared?: SharedViews
  /** Memo of this node's alive signature, keyed by the signed payload. */
  selfSigned?: { key: string, signature: Uint8Array }
  /** This node's signature of its own leave. */
  selfLeaveSignature?: Uint8Array
  /** Joining: seeds to contact, when to retry, the retry delay after a failed delivery and the wait for an answer (each doubles after its kind of failure). */
  join?: { seeds: Destination[], nextRetryAt: number, backoffMs: number, unansweredMs: number }
}

export const MAX_TOMBSTONES = 1024
export const MAX_RELAYS = 1024
/** Members whose last message is remembered (State.heardAt): a neighbourhood and those who probe us, with room to spare. */
export const MAX_HEARD = 128

const EMPTY_TAGS: Record<string, string> = Object.freeze({}) as Record<string, string>

/**
 * Addresses and tags are kept as received, not copied: a record, the sync
 * entries and updates built from it, and the records of those who learn it
 * share one array and one tags object (in the simulator, one per member instead
 * of one per member per core). Frozen, so that a mutation anywhere throws instead
 * of changing every holder; nothing mutates them (new ones replace them).
 */
export function keepAddrs (addrs: string[]): string[] {
  return Object.isFrozen(addrs) ? addrs : Object.freeze(addrs) as string[]
}

/** See keepAddrs. No tags: one shared empty object. */
export function keepTags (tags: Record<string, string>): Record<string, string> {
  if (tags === EMPTY_TAGS) return tags
  for (const _ in tags) return Object.isFrozen(tags) ? tags : Object.freeze(tags)
  return EMPTY_TAGS
}

/** Whether two tag sets hold the same keys with the same values. */
export function sameTags (a: Record<string, string>, b: Record<string, string>): boolean {
  if (a === b) return true
  const ak = Object.keys(a)
  return ak.length === Object.keys(b).length && ak.every(k => Object.hasOwn(b, k) && a[k] === b[k])
}

/** A copy of this node's own record, as the core's callers see a member. */
export function copyMember (m: Member): Member {
  return callersCopy(m, m.statusSince)
}

/** A copy of what `rec` holds of its member, as the core's callers see a member. */
export function memberOf (rec: MemberRecord): Member {
  return callersCopy(rec.member, rec.statusSince)
}

/** The member's fields a caller sees (not what a state keeps for relaying), its own arrays, no cause while alive. */
function callersCopy (m: MemberState, statusSince: number): Member {
  const copy: Member = { id: m.id, name: m.name, addrs: [...m.addrs], tags: { ...m.tags }, incarnation: m.incarnation, bootId: m.bootId, status: m.status, statusSince }
  if (m.cause != null && m.status !== 'alive') copy.cause = m.cause
  return copy
}

/**
 * Replaces `rec`'s member by one with `change` applied (`cause: undefined`
 * removes the cause), shared with the other cores (state.shared) when there
 * are any. Callers re-read `rec.member` after it.
 */
export function changeMember (state: State, rec: MemberRecord, change: Partial<MemberState>): MemberState {
  rec.member = shared(state, memberState({ ...rec.member, ...change }))
  return rec.member
}

function shared (state: State, member: MemberState): MemberState {
  return state.shared?.intern(member) ?? member
}

/** The record of a member learned alive now (not yet in `state.members`). */
export function newRecord (state: State, a: MemberAnnouncement, aliveSignature: Uint8Array | undefined): MemberRecord {
  const alive = memberState({
    id: a.id, name: a.name, addrs: keepAddrs(a.addrs), tags: keepTags(a.tags), incarnation: a.incarnation, bootId: a.bootId, status: 'alive', aliveSignedIncarnation: a.incarnation, aliveSignature
  })
  return {
    member: shared(state, alive),
    statusSince: state.now,
    order: state.index.nextOrder++,
    refused: false,
    summed: undefined
  }
}

/** Whether a span that began at `since` ran across a long stall of this process: then it measured the stall, not the cluster. */
export function spansLongStall (state: State, since: number): boolean {
  return since < state.lastLongStallAt
}

export function isSelfLeft (state: State): boolean {
  return state.self.status === 'left'
}

export function isLive (m: MemberState): boolean {
  return m.status === 'alive' || m.status === 'suspect'
}

/** Asks the transport to try another path to `id` (see the `path-failed` effect). */
export function pathFailed (state: State, id: MemberId): void {
  state.out.push({ kind: 'path-failed', id })
}

export function send (state: State, to: Destination, msg: Message): void {
  state.out.push({ kind: 'send', to, msg })
}

export function emit (state: State, type: MemberEventType, rec: MemberRecord): void {
  const member = rec.member
  if (state.members.get(member.id) === rec) track(state, rec)
  state.partition.dirty = true
  state.ring.sync(member.id, isLive(member) && state.members.has(member.id))
  state.out.push({ kind: 'event', event: { type, member: memberOf(rec) } })
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
  const ix = state.index
  return (isLive(state.self) ? 1 : 0) + state.members.size - ix.failed.size - ix.left.size
}

/** Every known member, this node included. */
export function knownCount (state: State): number {
  return state.members.size + 1
}

/**
 * `first` followed by queued updates, at most maxPiggybackUpdates in all, for a
 * message to `to`: none that `to` already holds (broadcasts.ts).
 */
export function piggyback (state: State, to: MemberId, first: Update[] = []): Update[] {
  const max = state.config.maxPiggybackUpdates
  const head = first.slice(0, max)
  // An upper bound: with the ring an update leaves the queue once every neighbour holds it,
  // after about as many sends as there are neighbours; the random-gossip count alone missed
  // one member in a few thousand (simulator, 50 members, 5 % loss) when the sends went to
  // neighbours at random.
  const limit = retransmitLimit(state.config.retransmitMult, knownCount(state)) + (ringNeighbours(state)?.length ?? 0)
  const exclude = head.length === 0 ? undefined : new Set(head.map(u => u.id))
  return head.concat(state.broadcasts.take(max - head.length, limit, { exclude, to, audience: () => gossipCandidates(state) }))
}

/**
 * Whom a gossip round picks from: the ring neighbourhood; or, without the ring,
 * every live member and the recently failed ones (so that a live one can learn
 * it was declared failed; with the ring, its own probes of its successors tell it).
 */
export function gossipCandidates (state: State): MemberId[] {
  const ring = ringNeighbours(state)
  if (ring != null) return ring
  const candidates: MemberId[] = []
  for (const rec of state.members.values()) {
    const m = rec.member
    if (isLive(m) || (m.status === 'failed' && state.now - rec.statusSince < state.config.gossipToTheDeadMs)) candidates.push(m.id)
  }
  return candidates
}

/** Queues an update for dissemination. */
export function broadcast (state: State, update: Update): void {
  state.broadcasts.queue(update)
}

/** `m`'s announcement, with its signature when we hold one for exactly this incarnation (signatures.ts). */
export function aliveUpdate (state: State, m: MemberState): Update {
  const update: Update = { type: 'alive', id: m.id, name: m.name, addrs: [...m.addrs], tags: { ...m.tags }, incarnation: m.incarnation, bootId: m.bootId }
  const signature = aliveSignatureOf(state, m)
  if (signature != null && signature.incarnation === m.incarnation) update.signature = signature.signature
  return update
}

function aliveSignatureOf (state: State, m: MemberState): { incarnation: number, signature: Uint8Array } | undefined {
  if (m.id === state.self.id) {
    const signature = selfAliveSignature(state)
    return signature == null ? undefined : { incarnation: m.incarnation, signature }
  }
  const held = state.members.get(m.id)?.member
  return held?.aliveSignature == null ? undefined : { incarnation: held.aliveSignedIncarnation ?? held.incarnation, signature: held.aliveSignature }
}

/** What this node believes about `m`, as an update it can send to `m` itself. */
export function accusationOf (state: State, m: MemberState): Update | undefined {
  if (m.status === 'suspect') return signAccusation(state, { type: 'suspect', id: m.id, incarnation: m.incarnation, from: state.self.id })
  if (m.status === 'failed') {
    return signAccusation(state, { type: 'dead', id: m.id, incarnation: m.incarnation, from: state.self.id, cause: m.cause ?? 'unreachable' })
  }
  return undefined
}

export function fullState (state: State): SyncEntry[] {
  const entries: SyncEntry[] = [syncEntry(state, state.self, state.selfLeaveSignature)]
  for (const rec of state.members.values()) entries.push(syncEntry(state, rec.member, rec.leaveSignature, rec.leaveForcedBy))
  return entries
}

/** One entry with the signature that vouches for it: the leave of a left member, else the alive. */
function syncEntry (state: State, m: MemberState, leaveSignature: Uint8Array | undefined, forcedBy?: MemberId): SyncEntry {
  const entry: SyncEntry = { id: m.id, name: m.name, addrs: keepAddrs(m.addrs), tags: keepTags(m.tags), incarnation: m.incarnation, bootId: m.bootId, status: m.status }
  if (m.status === 'left') {
    if (leaveSignature != null) entry.signature = leaveSignature
    if (forcedBy != null) entry.forcedBy = forcedBy
    return entry
  }
  if (m.id === state.self.id && m.status === 'alive') {
    const signature = selfAliveSignature(state)
    if (signature != null) entry.signature = signature
    return entry
  }
  const signed = aliveSignatureOf(state, m)
  if (signed != null) {
    entry.signature = signed.signature
    if (signed.incarnation !== m.incarnation) entry.signedIncarnation = signed.incarnation
  }
  return entry
}
