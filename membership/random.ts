/**
 * Seedable randomness for the membership core and the simulator. The core
 * never calls Math.random(): every random choice (probe order, indirect
 * probers, gossip targets) comes from the injected `Random`, so a seed replays
 * a run exactly.
 */
import type { Random } from './types.ts'

/**
 * A small, fast 32-bit PRNG (mulberry32). Not cryptographic: it only has to be
 * deterministic and well spread. Any number is accepted as seed (it is
 * reduced to 32 bits; NaN counts as 0).
 */
export function seededRandom (seed: number): Random {
  let state = Number.isFinite(seed) ? (Math.floor(seed) >>> 0) : 0
  return () => {
    state = (state + 0x6D2B79F5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** An integer in [0, n). Returns 0 for n <= 1. */
export function randomInt (random: Random, n: number): number {
  if (n <= 1) return 0
  const i = Math.floor(random() * n)
  return i >= n ? n - 1 : i
}

/** Fisher-Yates shuffle in place; returns the same array. */
export function shuffle<T> (random: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1)
    const tmp = items[i]
    items[i] = items[j]
    items[j] = tmp
  }
  return items
}

/** Up to `k` distinct items picked uniformly at random (the input is not modified). */
export function pickRandom<T> (random: Random, items: readonly T[], k: number): T[] {
  const pool = items.slice()
  const count = Math.max(0, Math.min(k, pool.length))
  for (let i = 0; i < count; i++) {
    const j = i + randomInt(random, pool.length - i)
    const tmp = pool[i]
    pool[i] = pool[j]
    pool[j] = tmp
  }
  pool.length = count
  return pool
}

/**
 * A random delay in [interval / 2, interval): the core staggers its periodic
 * work with it so that nodes started together do not act in lockstep.
 */
export function stagger (random: Random, intervalMs: number): number {
  return Math.floor(intervalMs * (0.5 + random() / 2))
}
