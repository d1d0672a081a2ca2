/**
 * The membership core: a sans-IO SWIM + Lifeguard state machine.
 *
 * Every entry point takes the current time and returns the effects to perform
 * (messages to send, member events), in the order decided. Timers are
 * deadlines in state; `tick(now)` runs whatever is due and `nextDeadline()`
 * says when that is. Randomness comes only from the injected generator.
 *
 * Concerns live in their own files: merge rules (merge.ts), probing
 * (probe.ts), suspicion timers (suspicion.ts), local health (awareness.ts),
 * the broadcast queue (broadcasts.ts), input checks (validate.ts), formulas,
 * stable membership / side / partition verdicts (partition.ts), the member
 * index (member-index.ts), deadlines and stalls (timers.ts), full-state syncs
 * and joining (sync.ts), gossip and direct corrections (dissemination.ts),
 * leaving and updating this node (self-changes.ts). This file builds the state
 * and routes each input.
 */
import type { Membership, MembershipOptions, MembershipStats } from './index.ts'
import type { DeliveryFailure, Destination, Effect, Health, Member, MemberId, Message, Update } from './types.ts'
import { validate } from './config.ts'
import { Awareness } from './awareness.ts'
import { BroadcastQueue } from './broadcasts.ts'
import { stagger } from './random.ts'
import { isValidMessage } from './validate.ts'
import { createPartitionState, updatePartition } from './partition.ts'
import { Ring } from './neighbors.ts'
import { applyUpdate } from './merge.ts'
import { onAck, onConnecting, onDeliveryFailed, onSentAfterConnecting, onNack, onPing, onPingReq, probeSoon } from './probe.ts'
import { aliveUpdate, broadcast, copyMember, isSelfLeft, MAX_HEARD, memberOf, type State } from './state.ts'
import { inNeighbourhoodOf, ringNeighbours } from './ring-view.ts'
import { setNewest } from './bounded-map.ts'
import { createIndex } from './member-index.ts'
import { createDigestSums, type ViewDigest } from './digest.ts'
import { createSyncAnswers } from './sync-answers.ts'
import { createRefutationWindow } from './refutation-window.ts'
import { advanceClock, nextDeadline, runDue } from './timers.ts'
import { catchUpNewNeighbours, joinUndelivered, learnStranger, onDigest, onSync, ownDigest, startJoin } from './sync.ts'
import { correctSender, tellAccused } from './dissemination.ts'
import { forceLeave, leaveCluster, updateSelf } from './self-changes.ts'
import { heardAgain } from './missed-nacks.ts'
import { learnKnownMembers } from './known-members.ts'
import { memberTable } from './member-table.ts'

const DELIVERY_FAILURES: ReadonlySet<string> = new Set<DeliveryFailure>(['refused', 'timeout', 'error'])

export function createMembership (opts: MembershipOptions): Membership {
  const config = validate({ ...opts.config })
  const random = opts.random
  const start = Number.isFinite(opts.now) ? opts.now : 0
  const self: Member = {
    id: opts.self.id,
    name: opts.self.name,
    addrs: [...opts.self.addrs],
    tags: { ...opts.self.tags },
    incarnation: opts.self.incarnation,
    bootId: opts.self.bootId,
    status: 'alive',
    statusSince: start
  }
  const state: State = {
    config,
    random,
    self,
    members: memberTable(opts.sharedViews),
    index: createIndex(),
    awareness: new Awareness(config.awarenessMaxMultiplier),
    digestSums: createDigestSums(),
    broadcasts: new BroadcastQueue(),
    tombstones: new Map(),
    stats: {
      probesSent: 0,
      indirectProbesSent: 0,
      probeFailures: 0,
      suspicionsRaised: 0,
      refutations: 0,
      messagesReceived: 0,
      messagesIgnored: 0,
      updatesApplied: 0,
      syncsSent: 0,
      syncsSentFor: { join: 0, answer: 0, pushPull: 0, reconnect: 0, stranger: 0 },
      digestsSent: 0,
      digestsDiffered: 0,
      syncsDeferred: 0,
      syncsDeclined: 0,
      signaturesRejected: 0,
      suspicionsHeld: 0
    },
    out: [],
    now: start,
    staleAccusation: false,
    seq: 0,
    ring: new Ring(self.id),
    probeOrder: [],
    probeIndex: 0,
    sharedClockOffsetMs: opts.sharedClockNow != null && Number.isFinite(opts.sharedClockNow) ? opts.sharedClockNow - start : undefined,
    probeSlot: 0,
    // Stagger the periodic work so that nodes started together do not act in lockstep.
    nextProbeAt: start + stagger(random, config.probeIntervalMs),
    probes: new Map(),
    failedProbes: new Map(),
    relays: new Map(),
    nextGossipAt: start + stagger(random, config.gossipIntervalMs),
    nextPushPullAt: start + stagger(random, config.pushPullIntervalMs),
    earlyPushPullGapMs: 0,
    nextReconnectAt: start + stagger(random, config.reconnectIntervalMs),
    lastLateAt: -Infinity,
    refutationSpans: createRefutationWindow(),
    ackSpans: new Map(),
    lastLongStallAt: -Infinity,
    strangers: new Map(),
    syncAnswers: createSyncAnswers(config.syncAnswerMembersPerSecond, start),
    heardAt: new Map(),
    silentIntermediaries: new Map(),
    corrected: new Map(),
    toldAccused: new Map(),
    partition: createPartitionState(self.id, start, config.stableAfterMs, opts.sharedViews),
    signer: opts.signer,
    shared: opts.sharedViews
  }

  if (opts.knownMembers != null) {
    learnKnownMembers(state, opts.knownMembers)
  } else {
    // Announce ourselves: whoever we first talk to spreads it (memberlist's setAlive).
    broadcast(state, aliveUpdate(state, self))
  }

  /** Runs one input at time `now` and returns its effects. */
  function run (now: number, body: () => void): Effect[] {
    state.out = []
    advanceClock(state, now)
    const neighbours = ringNeighbours(state)
    body()
    catchUpNewNeighbours(state, neighbours)
    updatePartition(state)
    const out = state.out
    state.out = []
    return out
  }

  /** Applies what `from` sent; whatever of it we pass on, we need not send back to `from`. */
  function applyAll (from: MemberId, updates: Update[]): void {
    for (const u of updates) {
      applyUpdate(state, u)
      state.broadcasts.heard(u, from)
    }
  }

  function handle (from: MemberId, msg: Message): void {
    switch (msg.type) {
      case 'ping': applyAll(from, msg.updates); onPing(state, from, msg); break
      case 'ping-req': applyAll(from, msg.updates); onPingReq(state, from, msg); break
      case 'ack': applyAll(from, msg.updates); onAck(state, from, msg); break
      case 'nack': applyAll(from, msg.updates); onNack(state, from, msg); break
      case 'gossip': applyAll(from, msg.updates); break
      case 'sync': onSync(state, from, msg); break
      case 'digest': onDigest(state, from, msg); break
    }
  }

  const membership: Membership = {
    get self (): Member {
      return copyMember(state.self)
    },

    join (now: number, seeds: Destination[]): Effect[] {
      return run(now, () => { startJoin(state, seeds) })
    },

    receive (now: number, from: MemberId, msg: Message): Effect[] {
      return run(now, () => {
        state.stats.messagesReceived++
        if (typeof from !== 'string' || from.length === 0 || from === state.self.id || !isValidMessage(msg)) {
          state.stats.messagesIgnored++
          return
        }
        state.staleAccusation = false
        // members only: strangers are never intermediaries, and a crowd of them must not push members out
        if (state.members.has(from)) {
          setNewest(state.heardAt, from, state.now, MAX_HEARD)
          heardAgain(state, from)
        }
        handle(from, msg)
        if (state.staleAccusation) correctSender(state, from)
        tellAccused(state, from)
        learnStranger(state, from, msg)
      })
    },

    deliveryFailed (now: number, to: Destination, msg: Message, reason: DeliveryFailure): Effect[] {
      return run(now, () => {
        if (to == null || msg == null || !DELIVERY_FAILURES.has(reason) || isSelfLeft(state)) return
        if (msg.type === 'sync' && msg.join && state.join != null) {
          joinUndelivered(state, to, reason)
          return
        }
        onDeliveryFailed(state, to, msg, reason)
      })
    },

    connecting (now: number, to: Destination, msg: Message): Effect[] {
      return run(now, () => { if (to != null && msg != null) onConnecting(state, msg) })
    },

    sentAfterConnecting (now: number, to: Destination, msg: Message): Effect[] {
      return run(now, () => { if (to != null && msg != null) onSentAfterConnecting(state, msg) })
    },

    peerDisconnected (now: number, id: MemberId): Effect[] {
      return run(now, () => { probeSoon(state, id) })
    },

    tick (now: number): Effect[] {
      return run(now, () => { runDue(state) })
    },

    leave (now: number): Effect[] {
      return run(now, () => { leaveCluster(state) })
    },

    forceLeave (now: number, id: MemberId): Effect[] {
      return run(now, () => { forceLeave(state, id) })
    },

    update (now: number, change: { tags?: Record<string, string>, addrs?: string[] }): Effect[] {
      return run(now, () => { updateSelf(state, change) })
    },

    members (): Member[] {
      const all = [copyMember(state.self)]
      for (const rec of state.members.values()) all.push(memberOf(rec))
      return all.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    },

    member (id: MemberId): Member | undefined {
      if (id === state.self.id) return copyMember(state.self)
      const rec = state.members.get(id)
      return rec == null ? undefined : memberOf(rec)
    },

    neighbours (): MemberId[] {
      return [...ringNeighbours(state) ?? []]
    },

    isNeighbourOf (id: MemberId): boolean {
      return inNeighbourhoodOf(state, id)
    },

    nextDeadline (): number {
      return nextDeadline(state)
    },

    viewDigest (): ViewDigest {
      return ownDigest(state)
    },

    stats (): MembershipStats {
      return { ...state.stats, syncsSentFor: { ...state.stats.syncsSentFor }, localHealth: state.awareness.score }
    },

    health (): Health {
      return { ...state.partition.health }
    }
  }
  return membership
}
