/**
 * Turns V8's optimizing compilers back on once the agent has CPU work: the
 * `agent` binary holds them off while it is idle (agent/optimizing-compilers.js,
 * which says why). Work is built-in workloads on task threads (a thread's
 * isolate takes the flags of its start), or the process having used more than
 * `busyShare` of a core over a window: a stream of claims, a busy control API.
 * A start storm is not work by that measure: fifty agents starting on two
 * cores each get a few percent of one. Once released, held no more.
 *
 * In a process that did not hold them (an embedder's, or one started with a
 * compiler flag of its own) all of this does nothing.
 */
// A namespace import: it links on every runtime (Deno's node:v8 too), and the flags are only set where they were held.
import * as v8 from 'node:v8'
import { everyCpuWindow } from './cpu-windows.ts'

const HELD = Symbol.for('agent.optimizingCompilersHeld')
const held = globalThis as { [HELD]?: boolean }

/** Whether this process holds the optimizing compilers off now. */
export function compilersHeld (): boolean {
  return held[HELD] === true
}

/** Turns Maglev and TurboFan on again (no-op unless held). */
export function releaseOptimizingCompilers (): void {
  if (!compilersHeld()) return
  held[HELD] = false
  v8.setFlagsFromString('--maglev')
  v8.setFlagsFromString('--turbofan')
}

export interface BusyWatchOptions {
  /** How often the process's CPU time is read (ms). */
  windowMs?: number
  /** Share of one core over a window that counts as busy (0.25: a quarter of a core). */
  busyShare?: number
}

/**
 * Releases the compilers once the process used more than `busyShare` of a
 * core over one window. Returns a stop function. Nothing runs when the
 * compilers are not held; the timer does not keep the process alive.
 */
export function releaseCompilersWhenBusy ({ windowMs = 10_000, busyShare = 0.25 }: BusyWatchOptions = {}): () => void {
  if (!compilersHeld()) return () => {}
  return everyCpuWindow(windowMs, share => {
    if (share > busyShare) releaseOptimizingCompilers()
    return compilersHeld()
  })
}
