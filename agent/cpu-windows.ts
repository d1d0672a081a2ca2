/**
 * The process's CPU use, window by window: what the idle-time levers of the
 * `agent` binary decide on (agent/compiler-release.ts, agent/memory-trim.ts).
 */

/**
 * Calls `onWindow` every `windowMs` with the share of one core the process
 * used over that window (0.25: a quarter of a core), until it returns false
 * or the returned stop function is called. The timer does not keep the
 * process alive.
 */
export function everyCpuWindow (windowMs: number, onWindow: (share: number) => boolean): () => void {
  let last = process.cpuUsage()
  const timer = setInterval(() => {
    const now = process.cpuUsage()
    const usedMs = (now.user - last.user + now.system - last.system) / 1000
    last = now
    if (!onWindow(usedMs / windowMs)) clearInterval(timer)
  }, windowMs)
  timer.unref()
  return () => { clearInterval(timer) }
}
