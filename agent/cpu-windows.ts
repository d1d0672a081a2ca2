/**
 * The process's CPU use, window by window: what the idle-time levers of the
 * `agent` binary decide on (agent/compiler-release.ts, agent/memory-trim.ts).
 */

/**
 * Calls `onWindow` every `windowMs` with the share of one core the process
 * used over that window (0.25: a quarter of a core) and the window's number
 * (1, 2, ...), until it returns false, throws, or the returned stop function
 * is called. What `onWindow` itself spends is left out of the next window.
 * The timer does not keep the process alive.
 */
export function everyCpuWindow (windowMs: number, onWindow: (share: number, window: number) => boolean): () => void {
  let last = process.cpuUsage()
  let count = 0
  const timer = setInterval(() => {
    const now = process.cpuUsage()
    const usedMs = (now.user - last.user + now.system - last.system) / 1000
    let again: boolean
    try {
      again = onWindow(usedMs / windowMs, ++count)
    } catch {
      again = false // a lever that throws stops; it never takes the agent down with it
    }
    if (!again) clearInterval(timer)
    last = process.cpuUsage()
  }, windowMs)
  timer.unref()
  return () => { clearInterval(timer) }
}
