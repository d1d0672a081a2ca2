/**
 * Gives back, once the agent is idle again, the memory its last burst of work
 * left behind: the bytecode of functions that ran for the start (or a job) and
 * will not run again, and the heap pages that emptied.
 *
 * V8 does not do this by itself for an idle agent. It flushes a function's
 * bytecode after six full collections without a call, and its memory reducer
 * runs two collections once allocation slows down; an idle agent allocates so
 * little that its start's code stays resident for hours. One collection with
 * every unused function's bytecode flushed, taken when the process has gone
 * idle, costs tens of milliseconds of CPU once (docs/scale.md, "Memory given
 * back once idle"). A flushed function that runs again is compiled again from
 * its source, lazily, as at its first call.
 *
 * Only the agent's own process does it (agent/run-cli.ts): the collection needs
 * V8 flags set for a moment, which an embedder's process should not see.
 * AGENT_MEMORY_TRIM=off turns it off.
 */
import * as v8 from 'node:v8'
import * as vm from 'node:vm'
import { everyCpuWindow } from './cpu-windows.ts'

/** The flags a trim sets and resets; a process started with one of them is left alone. */
const OWN_FLAG = /--(no-)?(expose[-_]gc|stress[-_]flush[-_]code)\b/

/** Whether this process was started with a flag the trim would set and reset. */
function hasOwnTrimFlag (): boolean {
  return process.execArgv.some(arg => OWN_FLAG.test(arg)) || OWN_FLAG.test(process.env.NODE_OPTIONS ?? '')
}

/**
 * V8's `gc`, from a context made while --expose-gc is set for a moment (so a
 * code cache checked or written later sees the process's own flags: V8 hashes
 * its flags into a cache). Undefined where it cannot be reached (a runtime
 * that ignores V8 flags; Deno sets them as Node does).
 */
function collector (): ((options: object) => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc')
    const made: unknown = vm.runInNewContext('typeof gc === "function" ? gc : undefined')
    return typeof made === 'function' ? made as (options: object) => void : undefined
  } catch {
    return undefined
  } finally {
    v8.setFlagsFromString('--no-expose-gc')
  }
}

/**
 * One full, memory-reducing collection that flushes the bytecode of every
 * function not running now; the flag that makes it flush is set for the call
 * only. Returns false where it does nothing: V8's collector cannot be reached,
 * the process was started with one of the flags it sets, or the heap is above
 * `maxHeapBytes` (a compacting collection of a large heap would stall the
 * event loop that answers probes for longer than an ack may take).
 */
export function trimMemoryNow (maxHeapBytes = 64 * 1024 * 1024): boolean {
  if (hasOwnTrimFlag() || v8.getHeapStatistics().used_heap_size > maxHeapBytes) return false
  const collect = collector()
  if (collect == null) return false
  v8.setFlagsFromString('--stress-flush-code')
  try {
    // 'last-resort': collections until nothing more is freed, compacting, with emptied pages released.
    collect({ type: 'major', execution: 'sync', flavor: 'last-resort' })
  } finally {
    v8.setFlagsFromString('--no-stress-flush-code')
  }
  return true
}

export interface IdleTrimOptions {
  /** How often the process's CPU time is read (ms). */
  windowMs?: number
  /** Share of one core under which a window counts as idle (0.05: 5 % of a core). */
  idleShare?: number
  /**
   * No trim before this long after the call (ms): not before agent/code-cache.js
   * has taken its cache, which holds only the functions that have bytecode then.
   */
  notBeforeMs?: number
  /**
   * Whether no member joined the agent's view since the last call. During
   * the start (`startCapMs`) a window with joins is not idle: in a start storm
   * each agent gets a few percent of a core while it is still joining, and a
   * trim then would flush code about to run again.
   */
  viewQuiet?: () => boolean
}

/** When the code cache is taken (agent/code-cache.js reads the same variable), and a window more. */
function afterCodeCacheMs (windowMs: number): number {
  const cacheAfterMs = Number(process.env.AGENT_CODE_CACHE_AFTER_MS ?? 20_000)
  return (Number.isFinite(cacheAfterMs) ? cacheAfterMs : 20_000) + windowMs
}

/** How long joins can hold the first trim off: a cluster that never stops growing still gets one. */
export const START_CAP_MS = 5 * 60_000

/**
 * Decides, window by window, when to trim: at the first idle window after work
 * (the start counts as work until no member joins over a window, for at most
 * START_CAP_MS), once `notBeforeMs` has passed; once per stretch of work, so an
 * agent that stays idle trims once. After the first trim only CPU counts.
 */
export class IdleTrimSchedule {
  #workSinceTrim = true
  #trimmed = false
  readonly #idleShare: number
  readonly #notBeforeMs: number

  constructor (idleShare: number, notBeforeMs: number) {
    this.#idleShare = idleShare
    this.#notBeforeMs = notBeforeMs
  }

  /** Takes a window's CPU share, the time since the start (ms) and whether no member joined; true: trim now. */
  window (share: number, sinceStartMs: number, viewQuiet = true): boolean {
    const starting = !this.#trimmed && !viewQuiet && sinceStartMs < START_CAP_MS
    if (share >= this.#idleShare || starting) {
      this.#workSinceTrim = true
      return false
    }
    if (!this.#workSinceTrim || sinceStartMs < this.#notBeforeMs) return false
    this.#workSinceTrim = false
    this.#trimmed = true
    return true
  }
}

/**
 * Trims the agent's memory at the first idle window after each stretch of
 * work (trimMemoryNow). Returns a stop function. Nothing runs when
 * AGENT_MEMORY_TRIM=off or the process has a trim flag of its own.
 */
export function trimMemoryWhenIdle ({ windowMs = 10_000, idleShare = 0.05, notBeforeMs, viewQuiet = () => true }: IdleTrimOptions = {}): () => void {
  if (process.env.AGENT_MEMORY_TRIM === 'off' || hasOwnTrimFlag()) return () => {}
  const schedule = new IdleTrimSchedule(idleShare, notBeforeMs ?? afterCodeCacheMs(windowMs))
  // Time counted in windows, not read from a clock: a timer that fires a millisecond early still makes the window.
  return everyCpuWindow(windowMs, (share, window) => {
    if (schedule.window(share, window * windowMs, viewQuiet())) trimMemoryNow()
    return true
  })
}
