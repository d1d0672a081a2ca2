/**
 * One scale run: N real membership cores (membership/, unchanged) over the
 * simulated network of test/sim/, driven by testkit/sim/cluster.ts, on a
 * realistic network. Phases: boot and converge; settle; then per loss rate a
 * window (quiet traffic, update spreads, silent crashes, traffic with failed
 * members, the crashed hosts restarted and settled again, so that the next
 * window starts with every member up); then optionally a 60 % | 40 %
 * partition and its healing.
 *
 * Everything random comes from the seed: the same seed and options replay
 * the same run.
 */
import { SimCluster } from '../../testkit/sim/cluster.ts'
import { exponential, logNormal } from '../../testkit/sim/latency.ts'
import type { DelayModel } from '../../testkit/sim/network.ts'
import type { MemberId, MembershipConfig, Message } from '../../membership/index.ts'
import { Views } from './views.ts'
import { TrafficMeter, Watchers, type CrashResult, type SpreadResult, type TrafficRate } from './measure.ts'
import { runPartition, type PartitionResult } from './partition.ts'
import { suspicionTimeouts } from './model.ts'
import { Profiler, type HotFunction } from './profile.ts'

/** One-way latency: a LAN/datacentre body with a long tail. */
export const LATENCY = { medianMs: 2, sigma: 0.6, minMs: 0.2, maxMs: 250 }
/** A slow member (an overloaded host): extra delay per message to or from it, and how late its timers fire. */
export const SLOW_MEAN_MS = 250
/** Lifeguard off: no local health scaling and a fixed suspicion timeout (the buddy ping has no switch in the core). */
export const LIFEGUARD_OFF: Partial<MembershipConfig> = { awarenessMaxMultiplier: 1, suspicionMaxTimeoutMult: 1 }

export interface ScaleOptions {
  seed: number
  size: number
  lifeguard: boolean
  lossRates: number[]
  /** Share of members that are slow (from the end of the boot on). */
  slowFraction: number
  /** Silent crashes per loss window, one every crashEveryMs. */
  crashes: number
  crashEveryMs: number
  /** Updates (a tag change) spread per loss window, one every updateEveryMs. */
  updates: number
  updateEveryMs: number
  /** Traffic is measured over this long with nothing failing, and again with failed members. */
  trafficMs: number
  /** Joins spread over this long. */
  joinWithinMs: number
  /**
   * Start settled: every member created knowing every other (SimCluster
   * startSettled) instead of a mass join, which grows as N² × retransmits and
   * took most of a 2,000-member run. No boot phase then; the settle still runs.
   */
  settledStart?: boolean
  partition: boolean
  /** Give up (and report how far it got) past this much wall-clock time. */
  wallBudgetMs: number
  trackIncarnations?: boolean
  /** Profile each phase (profile.ts) and keep its hottest functions. */
  profile?: boolean
  log?: (line: string) => void
}

export interface WindowResult {
  loss: number
  simMs: number
  memberHours: number
  quiet: TrafficRate
  withFailed: TrafficRate
  /** Push-pull digests sent by all members over the window, and those whose receiver's view differed (a full exchange followed). */
  digests?: { sent: number, differed: number }
  falseFailures: number
  falseSuspicions: number
  crashes: CrashResult[]
  spreads: SpreadResult[]
}

export interface ScaleResult {
  options: Omit<ScaleOptions, 'log'>
  config: MembershipConfig
  convergeMs?: number
  settleMs?: number
  /** Simulated time at the end of the run. */
  simulatedMs: number
  slow: number
  windows: WindowResult[]
  partition?: PartitionResult
  /** Wall-clock ms per phase. */
  wall: Record<string, number>
  /** The hottest functions of each phase (with `profile`). */
  hot?: Record<string, HotFunction[]>
  heapMb: number
  /** Set when the run stopped early: where, and why. */
  aborted?: string
  violations: string[]
}

export class BudgetExceeded extends Error {
  override name = 'BudgetExceeded'
}

/** A libp2p-like peer id (52 characters, as Ed25519 ids are): sizes on the wire stay realistic. */
export const peerIdOf = (i: number): MemberId => `12D3KooW${String(i).padStart(8, '0')}${'Q'.repeat(36)}`
const addrOf = (_id: MemberId, i: number): string => `/ip4/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/tcp/7946`
/** 16 hex digits, as the agent's random boot ids. */
const bootIdOf = (_id: MemberId, i: number, boot: number): string => i.toString(16).padStart(12, '0') + boot.toString(16).padStart(4, '0')

/** The cluster, its views and its watchers, wired together; also used by test/sim/scale.test.ts. */
export function createScaleCluster (opts: Pick<ScaleOptions, 'seed' | 'size' | 'lifeguard' | 'joinWithinMs' | 'trackIncarnations'> & {
  /** Sees every message sent. */
  tap?: (msg: Message) => void
  /** False: no shared clock, so no probe turns (each prober goes round on a clock of its own). */
  probeTurns?: boolean
}): {
  cluster: SimCluster
  views: Views
  watchers: Watchers
  traffic: TrafficMeter
} {
  const traffic = new TrafficMeter()
  let watchers: Watchers | undefined
  let views: Views | undefined
  const latency: DelayModel = logNormal(LATENCY.medianMs, LATENCY.sigma, LATENCY)
  const cluster = new SimCluster({
    seed: opts.seed,
    size: opts.size,
    ...(opts.probeTurns === false ? { clockSkewMs: () => undefined } : {}),
    profile: 'lan',
    config: opts.lifeguard ? {} : LIFEGUARD_OFF,
    latency,
    joinWithinMs: opts.joinWithinMs,
    idOf: peerIdOf,
    addrOf,
    bootIdOf,
    recordEvents: false,
    cloneMessages: false,
    meter: (_from, to, msg, reachable) => {
      traffic.count(msg, reachable)
      opts.tap?.(msg)
      watchers?.sent(to == null ? undefined : views?.index.get(to), msg)
    }
  })
  const ids: MemberId[] = []
  for (let i = 0; i < opts.size; i++) ids.push(cluster.idOf(i))
  views = new Views(ids, { trackIncarnations: opts.trackIncarnations })
  watchers = new Watchers(views, () => cluster.now)
  cluster.onEvent(views.observe)
  return { cluster, views, watchers, traffic }
}

export function runScale (opts: ScaleOptions): ScaleResult {
  const log = opts.log ?? (() => {})
  const { log: _, ...options } = opts
  const { cluster, views, watchers, traffic } = createScaleCluster(opts)
  const result: ScaleResult = { options, config: cluster.config, slow: 0, windows: [], wall: {}, heapMb: 0, simulatedMs: 0, violations: views.violations }
  const started = performance.now()
  let memberMs = 0
  let phase = 'boot'
  let phaseStart = started
  let profiler: Profiler | undefined
  if (opts.profile === true) {
    result.hot = {}
    profiler = new Profiler()
    profiler.start()
  }

  const step = (ms: number): void => {
    if (performance.now() - started > opts.wallBudgetMs) {
      throw new BudgetExceeded(`wall-clock budget of ${Math.round(opts.wallBudgetMs / 60_000)} min spent in ${phase} at ${(cluster.now / 1000).toFixed(1)} s simulated`)
    }
    memberMs += views.upCount * ms
    cluster.runFor(ms)
  }
  const runFor = (ms: number, chunk = 250): void => {
    for (let left = ms; left > 0; left -= chunk) step(Math.min(chunk, left))
  }
  /** Runs until `done()` (checked every `everyMs`) or `maxMs`; the time it took, or undefined. */
  const runUntil = (done: () => boolean, maxMs: number, everyMs = 250): number | undefined => {
    const start = cluster.now
    while (!done()) {
      if (cluster.now - start >= maxMs) return undefined
      step(everyMs)
    }
    return cluster.now - start
  }
  const nextPhase = (name: string): void => {
    const now = performance.now()
    result.wall[phase] = (result.wall[phase] ?? 0) + now - phaseStart
    log(`  ${phase}: ${((now - phaseStart) / 1000).toFixed(1)} s wall, at ${(cluster.now / 1000).toFixed(1)} s simulated, heap ${heapMb()} MB`)
    if (profiler != null && result.hot != null) {
      result.hot[phase] = profiler.stop()
      profiler = name === 'done' ? undefined : new Profiler()
      profiler?.start()
    }
    phase = name
    phaseStart = now
  }
  /** Every join is gossiped by every member: waits until that has died down (before measuring traffic). */
  const settle = (): number | undefined => {
    let gossip = -Infinity
    return runUntil(() => {
      const sent = traffic.total.byType.gossip?.msgs ?? 0
      const quiet = sent - gossip < views.n / 100
      gossip = sent
      return quiet
    }, 600_000, 1000)
  }
  /** Push-pull digests sent and differed, summed over every core (a crashed one keeps its core until restarted). */
  const digestCounts = (): { sent: number, differed: number } => {
    let sent = 0
    let differed = 0
    for (const id of views.ids) {
      const stats = cluster.core(id).stats()
      sent += stats.digestsSent
      differed += stats.digestsDiffered
    }
    return { sent, differed }
  }
  const pick = (exclude: (i: number) => boolean): number => {
    for (;;) {
      const i = Math.floor(cluster.random() * views.n)
      if (views.up[i] === 1 && i !== 0 && !exclude(i)) return i
    }
  }

  try {
    if (opts.settledStart === true) {
      cluster.startSettled()
      views.allAlive()
    } else {
      cluster.start()
      result.convergeMs = runUntil(() => views.converged(), 600_000, 500)
      if (result.convergeMs == null) throw new BudgetExceeded('no convergence within 600 s simulated')
    }
    nextPhase('settle')
    result.settleMs = settle()
    result.heapMb = heapMb()
    const slow = new Set<number>()
    while (slow.size < Math.round(opts.slowFraction * opts.size)) slow.add(pick(i => slow.has(i)))
    for (const i of slow) cluster.slow(views.ids[i], exponential(SLOW_MEAN_MS))
    result.slow = slow.size

    for (const loss of opts.lossRates) {
      nextPhase(`window ${loss * 100}%`)
      cluster.net.lossRate = loss
      const w0 = cluster.now
      const memberMs0 = memberMs
      const failures0 = watchers.falseFailures.size
      const suspicions0 = watchers.falseSuspicions.size
      const crashes0 = watchers.crashes.length
      const spreads0 = watchers.spreads.length
      const t0 = traffic.snapshot()
      const digests0 = digestCounts()
      runFor(opts.trafficMs)
      const quiet = TrafficMeter.rate(t0, traffic.snapshot(), views.upCount, opts.trafficMs)
      for (let k = 0; k < opts.updates; k++) {
        const i = pick(j => slow.has(j))
        cluster.update(views.ids[i], { tags: { rev: `${loss}-${k}` } })
        watchers.updated(i, cluster.core(views.ids[i]).self.incarnation, loss)
        runFor(opts.updateEveryMs)
      }
      runUntil(() => watchers.spreadsDone(), 30_000)
      const crashed: number[] = []
      for (let k = 0; k < opts.crashes; k++) {
        const i = pick(j => slow.has(j))
        cluster.crash(views.ids[i], { refuse: false })
        views.down(i)
        watchers.crashed(i, loss)
        crashed.push(i)
        runFor(opts.crashEveryMs)
      }
      runUntil(() => watchers.crashesDone(), suspicionTimeouts(cluster.config, opts.size).maxMs + 30_000)
      const t1 = traffic.snapshot()
      runFor(opts.trafficMs)
      const withFailed = TrafficMeter.rate(t1, traffic.snapshot(), views.upCount, opts.trafficMs)
      const digests1 = digestCounts()
      // The hosts come back (new boot ids): the next window starts with no failed member, as this one did.
      for (const i of crashed) {
        cluster.restart(views.ids[i])
        views.revive(i)
      }
      runUntil(() => views.converged(), 120_000, 500)
      settle()
      result.windows.push({
        loss,
        simMs: cluster.now - w0,
        memberHours: (memberMs - memberMs0) / 3_600_000,
        quiet,
        withFailed,
        digests: { sent: digests1.sent - digests0.sent, differed: digests1.differed - digests0.differed },
        falseFailures: watchers.falseFailures.size - failures0,
        falseSuspicions: watchers.falseSuspicions.size - suspicions0,
        crashes: watchers.crashResults().slice(crashes0),
        spreads: watchers.spreadResults().slice(spreads0)
      })
    }
    if (opts.partition) {
      nextPhase('partition')
      result.partition = runPartition({ cluster, views, loss: 0.01, runUntil, runFor })
    }
  } catch (err) {
    if (!(err instanceof BudgetExceeded)) throw err
    result.aborted = err.message
    log(`  stopped: ${err.message}`)
  }
  nextPhase('done')
  result.simulatedMs = cluster.now
  return result
}

/** Heap in use, after a full collection when the process runs with --expose-gc. */
function heapMb (): number {
  (globalThis as { gc?: () => void }).gc?.()
  return Math.round(process.memoryUsage().heapUsed / 1e6)
}
