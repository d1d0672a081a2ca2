/**
 * The partition phase of a scale run: the members that are up split 60 % |
 * 40 % at random; how long until each side holds every member of the other
 * `failed` with cause `partition` and knows its own side (majority /
 * minority); then the cut heals, and how long until there is one view again.
 */
import type { SimCluster } from '../../testkit/sim/cluster.ts'
import { NO_SIDE, type Views } from './views.ts'

export const MAJORITY_SHARE = 0.6
/** Bound on each of the two waits, simulated. */
const WAIT_MS = 300_000

export interface PartitionResult {
  loss: number
  majority: number
  minority: number
  /** After the cut: every majority member has every minority member failed (partition) and knows it is the majority. */
  majorityDoneMs?: number
  minorityDoneMs?: number
  /** After healing: every up member sees every up member alive. */
  healedMs?: number
  /** Members of each side that were still missing a verdict when the wait ended (0 when done). */
  majorityMissing: number
  minorityMissing: number
}

export interface PartitionRunner {
  cluster: SimCluster
  views: Views
  loss: number
  runUntil: (done: () => boolean, maxMs: number, everyMs?: number) => number | undefined
  runFor: (ms: number) => void
}

export function runPartition ({ cluster, views, loss, runUntil }: PartitionRunner): PartitionResult {
  const up: number[] = []
  for (let i = 0; i < views.n; i++) if (views.up[i] === 1) up.push(i)
  for (let i = up.length - 1; i > 0; i--) {
    const j = Math.floor(cluster.random() * (i + 1))
    ;[up[i], up[j]] = [up[j], up[i]]
  }
  const cut = Math.round(MAJORITY_SHARE * up.length)
  const sides = [up.slice(0, cut), up.slice(cut)]
  const side = new Uint8Array(views.n).fill(NO_SIDE)
  sides[1].forEach(i => { side[i] = 1 })
  sides[0].forEach(i => { side[i] = 0 })
  views.setSides(side)
  cluster.net.lossRate = loss
  cluster.net.partition(sides[0].map(i => views.ids[i]), sides[1].map(i => views.ids[i]))

  const expected = ['majority', 'minority'] as const
  /** Members of side `s` without the full verdict yet. */
  const missing = (s: 0 | 1): number => {
    const others = sides[1 - s].length
    let count = 0
    for (const o of sides[s]) {
      if (views.crossPartitioned[o] !== others || cluster.core(views.ids[o]).health().side !== expected[s]) count++
    }
    return count
  }
  const result: PartitionResult = { loss, majority: sides[0].length, minority: sides[1].length, majorityMissing: -1, minorityMissing: -1 }
  const cutAt = cluster.now
  runUntil(() => {
    if (result.majorityDoneMs == null && missing(0) === 0) result.majorityDoneMs = cluster.now - cutAt
    if (result.minorityDoneMs == null && missing(1) === 0) result.minorityDoneMs = cluster.now - cutAt
    return result.majorityDoneMs != null && result.minorityDoneMs != null
  }, WAIT_MS, 500)
  result.majorityMissing = missing(0)
  result.minorityMissing = missing(1)

  views.setSides(undefined)
  cluster.net.heal()
  result.healedMs = runUntil(() => views.converged(), WAIT_MS, 500)
  return result
}
