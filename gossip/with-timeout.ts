/**
 * The one way this code waits for something with a bound: `p`, unless `ms`
 * pass first, then whatever `late()` returns (or throws). `p` goes on either
 * way (nothing here can cancel it), and its late rejection is not unhandled.
 * The timer is cleared as soon as either side wins.
 */
export async function withTimeout<T, U = undefined> (p: Promise<T>, ms: number, late: () => U = () => undefined as U): Promise<T | U> {
  p.catch(() => {})
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([p, new Promise<U>((resolve, reject) => {
      timer = setTimeout(() => {
        try { resolve(late()) } catch (err) { reject(err) }
      }, Math.max(0, ms))
    })])
  } finally {
    clearTimeout(timer)
  }
}
