/**
 * A small seeded fuzzing kit: a generator, byte mutators and a runner bounded
 * in cases and in time. Every failure names the seed and the case so that
 * `FUZZ_SEED=<seed>` replays it exactly.
 *
 *   FUZZ_CASES   cases per target (default 2,000: what `npm test` runs;
 *                `npm run fuzz` runs 100,000)
 *   FUZZ_SEED    seed (default: random, printed)
 *   FUZZ_TIME_MS time bound per target (default 10 min); a run that hits it
 *                stops early and says how many cases it ran
 */
import { seededRandom } from '../../membership/random.ts'

export const FUZZ_CASES = positive(process.env.FUZZ_CASES, 2000)
export const FUZZ_TIME_MS = positive(process.env.FUZZ_TIME_MS, 10 * 60_000)

function positive (value: string | undefined, fallback: number): number {
  const n = Number(value)
  return value != null && Number.isSafeInteger(n) && n > 0 ? n : fallback
}

export function fuzzSeed (): number {
  return process.env.FUZZ_SEED != null ? Number(process.env.FUZZ_SEED) >>> 0 : Math.floor(Math.random() * 2 ** 31)
}

/** The core's seeded generator (membership/random.ts), with the helpers a fuzz loop needs. */
export function seeded (seed: number): Rng {
  const next = seededRandom(seed)
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)],
    bytes: (n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256))
  }
}

export interface Rng {
  next: () => number
  int: (n: number) => number
  pick: <T>(list: readonly T[]) => T
  bytes: (n: number) => Uint8Array
}

/** Values that tend to sit on boundaries of varints, lengths and enums. */
const INTERESTING = [0x00, 0x01, 0x02, 0x07, 0x08, 0x0a, 0x10, 0x12, 0x7f, 0x80, 0xff]

/**
 * One mutation of `base`: flip bytes, insert or delete a run, truncate,
 * splice with another input, set a boundary value, or repeat a slice (a
 * duplicated field). Bytes before `keep` (a version byte) stay as they are.
 */
export function mutate (rng: Rng, base: Uint8Array, corpus: readonly Uint8Array[], keep = 0): Uint8Array {
  const at = (): number => keep + rng.int(Math.max(1, base.length - keep))
  switch (rng.int(7)) {
    case 0: {
      const out = base.slice()
      for (let k = 0; k <= rng.int(4); k++) if (out.length > keep) out[at()] = rng.int(256)
      return out
    }
    case 1: {
      const i = at()
      return concat(base.subarray(0, i), rng.bytes(1 + rng.int(16)), base.subarray(i))
    }
    case 2: {
      const i = at()
      return concat(base.subarray(0, i), base.subarray(Math.min(base.length, i + 1 + rng.int(16))))
    }
    case 3:
      return base.subarray(0, rng.int(base.length + 1))
    case 4: {
      const other = rng.pick(corpus)
      return concat(base.subarray(0, at()), other.subarray(keep + rng.int(Math.max(1, other.length - keep))))
    }
    case 5: {
      const out = base.slice()
      if (out.length > keep) out[at()] = rng.pick(INTERESTING)
      return out
    }
    default: {
      const i = at()
      const j = Math.min(base.length, i + 1 + rng.int(32))
      return concat(base.subarray(0, j), base.subarray(i, j), base.subarray(j))
    }
  }
}

export function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

export interface FuzzReport { seed: number, cases: number, stoppedByTime: boolean, ms: number }

/**
 * Runs `one(rng, i)` for FUZZ_CASES cases or until FUZZ_TIME_MS. An exception
 * from `one` fails the run with the seed and case number.
 */
export async function runFuzz (name: string, one: (rng: Rng, i: number) => void | Promise<void>, cases = FUZZ_CASES): Promise<FuzzReport> {
  const seed = fuzzSeed()
  const rng = seeded(seed)
  const start = performance.now()
  let i = 0
  for (; i < cases; i++) {
    if ((i & 255) === 0 && performance.now() - start > FUZZ_TIME_MS) break
    try {
      await one(rng, i)
    } catch (err) {
      throw new Error(`${name}: seed ${seed} (FUZZ_SEED=${seed}), case ${i}: ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err })
    }
  }
  const report = { seed, cases: i, stoppedByTime: i < cases, ms: Math.round(performance.now() - start) }
  console.log(`# fuzz ${name}: ${report.cases} cases in ${report.ms} ms, seed ${seed}${report.stoppedByTime ? ' (stopped by FUZZ_TIME_MS)' : ''}`)
  return report
}
