/**
 * What the scale run measures, as watchers fed by the network meter and the
 * view changes: traffic, crash detection milestones, the spread of one
 * update, and false suspicions and failures of members that are up.
 */
import type { Message, MessageType } from '../../membership/index.ts'
import type { ObservedEvent } from '../../testkit/sim/cluster.ts'
import { ALIVE, FAILED, SUSPECT, type Views } from './views.ts'
import { membersFor } from './model.ts'
import { frameSize } from './wire-size.ts'

/** The transport's default maxMessageBytes (gossip/config.ts): a larger frame is never sent. */
export const MAX_MESSAGE_BYTES = 1024 * 1024

export interface TrafficCount {
  /** On the wire: to members that run and are not cut off. */
  msgs: number
  bytes: number
  /** Built for members that are down or cut off: a dial is attempted, nothing more is sent. */
  undeliverable: { msgs: number, bytes: number }
  byType: Partial<Record<MessageType, { msgs: number, bytes: number }>>
  /** Frames over MAX_MESSAGE_BYTES (the agent would refuse to send them). */
  oversized: number
  largest: number
  /** Every sync built, deliverable or not (for its size). */
  syncs: number
  syncBytes: number
}

export function emptyTraffic (): TrafficCount {
  return { msgs: 0, bytes: 0, undeliverable: { msgs: 0, bytes: 0 }, byType: {}, oversized: 0, largest: 0, syncs: 0, syncBytes: 0 }
}

/** Per member and second over a window. */
export interface TrafficRate {
  msgsPerMemberSec: number
  bytesPerMemberSec: number
  /** Built for members that are down or cut off (not on the wire). */
  undeliverableBytesPerMemberSec: number
  byType: Partial<Record<MessageType, { msgsPerMemberSec: number, bytesPerMemberSec: number }>>
  /** Mean size of a push-pull `sync` sent in the window (0 without one). */
  meanSyncBytes: number
  largest: number
  oversized: number
}

export class TrafficMeter {
  total = emptyTraffic()

  count (msg: Message, reachable: boolean): void {
    const size = frameSize(msg)
    const t = this.total
    if (msg.type === 'sync') {
      t.syncs++
      t.syncBytes += size
    }
    if (size > t.largest) t.largest = size
    if (size > MAX_MESSAGE_BYTES) t.oversized++
    if (!reachable) {
      t.undeliverable.msgs++
      t.undeliverable.bytes += size
      return
    }
    t.msgs++
    t.bytes += size
    const byType = t.byType[msg.type] ??= { msgs: 0, bytes: 0 }
    byType.msgs++
    byType.bytes += size
  }

  snapshot (): TrafficCount {
    return structuredClone(this.total)
  }

  /** The rate between two snapshots, for `members` members over `ms`. */
  static rate (from: TrafficCount, to: TrafficCount, members: number, ms: number): TrafficRate {
    const per = (x: number): number => x / members / (ms / 1000)
    const byType: TrafficRate['byType'] = {}
    for (const [type, v] of Object.entries(to.byType) as Array<[MessageType, { msgs: number, bytes: number }]>) {
      const before = from.byType[type] ?? { msgs: 0, bytes: 0 }
      byType[type] = { msgsPerMemberSec: per(v.msgs - before.msgs), bytesPerMemberSec: per(v.bytes - before.bytes) }
    }
    const syncs = to.syncs - from.syncs
    return {
      msgsPerMemberSec: per(to.msgs - from.msgs),
      bytesPerMemberSec: per(to.bytes - from.bytes),
      undeliverableBytesPerMemberSec: per(to.undeliverable.bytes - from.undeliverable.bytes),
      byType,
      meanSyncBytes: syncs === 0 ? 0 : (to.syncBytes - from.syncBytes) / syncs,
      largest: to.largest,
      oversized: to.oversized - from.oversized
    }
  }
}

/** Milestones of one crash, in ms after it (undefined: not reached). */
export interface CrashResult {
  loss: number
  /** The first ping anyone sent it after the crash (SWIM's "picked as a probe target"). */
  firstProbeMs?: number
  firstSuspectMs?: number
  firstFailedMs?: number
  failed99Ms?: number
  failed100Ms?: number
}

interface CrashWatch extends CrashResult {
  member: number
  at: number
}

/** One update's spread: when each member first held it. */
export interface SpreadResult {
  loss: number
  /** Members other than the origin that were up when it was sent. */
  observers: number
  /** Arrival times (ms after the update), sorted. */
  arrivals: number[]
}

interface SpreadWatch {
  member: number
  at: number
  incarnation: number
  loss: number
  observers: number
  seen: Uint8Array
  arrivals: number[]
}

/** Crashes, update spreads and false alarms, from view changes and pings. */
export class Watchers {
  readonly crashes: CrashWatch[] = []
  readonly spreads: SpreadWatch[] = []
  /** Episodes (member@incarnation) of a member that was up being declared failed / suspected. */
  readonly falseFailures = new Set<string>()
  readonly falseSuspicions = new Set<string>()
  readonly #activeCrashes = new Map<number, CrashWatch>()
  readonly #activeSpreads = new Map<number, SpreadWatch>()
  readonly #views: Views
  readonly #now: () => number

  constructor (views: Views, now: () => number) {
    this.#views = views
    this.#now = now
    views.onChange((o, a, prev, next, e) => { this.#changed(o, a, prev, next, e) })
  }

  /** Call from the network meter. */
  sent (to: number | undefined, msg: Message): void {
    if (msg.type !== 'ping' || to == null) return
    const w = this.#activeCrashes.get(to)
    if (w != null && w.firstProbeMs == null) w.firstProbeMs = this.#now() - w.at
  }

  crashed (member: number, loss: number): void {
    const w: CrashWatch = { member, at: this.#now(), loss }
    this.crashes.push(w)
    this.#activeCrashes.set(member, w)
    // The crash took an observer away: it may complete another crash's view.
    for (const other of this.#activeCrashes.values()) this.#checkFailed(other)
  }

  /** True when every crash watched has been seen failed by every up member. */
  crashesDone (): boolean {
    return this.#activeCrashes.size === 0
  }

  updated (member: number, incarnation: number, loss: number): void {
    const w: SpreadWatch = {
      member, at: this.#now(), incarnation, loss, observers: this.#views.upCount - 1, seen: new Uint8Array(this.#views.n), arrivals: []
    }
    this.spreads.push(w)
    this.#activeSpreads.set(member, w)
  }

  spreadsDone (): boolean {
    return this.#activeSpreads.size === 0
  }

  crashResults (): CrashResult[] {
    return this.crashes.map(({ member, at, ...r }) => r)
  }

  spreadResults (): SpreadResult[] {
    return this.spreads.map(w => ({ loss: w.loss, observers: w.observers, arrivals: [...w.arrivals].sort((x, y) => x - y) }))
  }

  #changed (o: number, a: number, prev: number, next: number, e: ObservedEvent): void {
    const views = this.#views
    const status = next & 7
    const crash = this.#activeCrashes.get(a)
    if (crash != null) {
      const since = e.at - crash.at
      if (status === SUSPECT) crash.firstSuspectMs ??= since
      if (status === FAILED) {
        crash.firstFailedMs ??= since
        this.#checkFailed(crash)
      }
    } else if (views.up[a] === 1 && views.up[o] === 1 && prev !== next) {
      const key = `${a}@${e.event.member.incarnation}`
      if (status === FAILED) this.falseFailures.add(key)
      if (status === SUSPECT) this.falseSuspicions.add(key)
    }
    const spread = this.#activeSpreads.get(a)
    if (spread != null && status === ALIVE && spread.seen[o] === 0 && e.event.member.incarnation >= spread.incarnation) {
      spread.seen[o] = 1
      spread.arrivals.push(e.at - spread.at)
      if (spread.arrivals.length >= spread.observers) this.#activeSpreads.delete(a)
    }
  }

  #checkFailed (w: CrashWatch): void {
    const seen = this.#views.failedSeen[w.member]
    const observers = this.#views.upCount
    const since = this.#now() - w.at
    if (w.failed99Ms == null && seen >= membersFor(0.99, observers)) w.failed99Ms = since
    if (w.failed100Ms == null && seen >= observers) {
      w.failed100Ms = since
      this.#activeCrashes.delete(w.member)
    }
  }
}
