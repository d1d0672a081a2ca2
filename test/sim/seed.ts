/**
 * Seeds of the simulation tests: a fixed default per test file (offset per
 * scenario), or `SIM_SEED=<n>` / `SIM_SEED=random` from the environment. A
 * failing scenario names the seed and the command that replays it exactly.
 */

export interface Seeded {
  seedFor: (offset: number) => number
  /** Wraps a scenario for `it()`: runs it with its seed, and adds the replay line to any failure. */
  simulate: (offset: number, scenario: (seed: number) => void) => () => void
}

export function seeded (defaultSeed: number, replayCommand = 'npm run test:sim'): Seeded {
  const seedFor = (offset: number): number => {
    const env = process.env.SIM_SEED
    if (env === 'random') return Math.floor(Math.random() * 2 ** 32)
    if (env != null && env !== '') return Number(env)
    return defaultSeed + offset
  }
  const simulate = (offset: number, scenario: (seed: number) => void) => () => {
    const seed = seedFor(offset)
    try {
      scenario(seed)
    } catch (err) {
      const replay = `SIM_SEED=${seed} (replay: SIM_SEED=${seed} ${replayCommand})`
      if (err instanceof Error) {
        err.message = `${err.message}\n${replay}`
        if (err.stack != null) err.stack = `${replay}\n${err.stack}`
      }
      throw err
    }
  }
  return { seedFor, simulate }
}
