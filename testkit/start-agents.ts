/**
 * How both real modes bring a cluster up: a temporary data directory per
 * agent (its key, so that a restarted agent is the same member), agent 0
 * first (the seed the others join), then the others at once. If any fails
 * to start, everything started is stopped before the error is thrown.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export async function startAgents (size: number, dirs: string[], start: (i: number) => Promise<void>, stopAll: () => Promise<void>): Promise<void> {
  try {
    for (let i = 0; i < size; i++) dirs.push(await mkdtemp(join(tmpdir(), `testkit-${i}-`)))
    await start(0)
    await Promise.all(Array.from({ length: size - 1 }, async (_, k) => { await start(k + 1) }))
  } catch (err) {
    await stopAll()
    throw err
  }
}
