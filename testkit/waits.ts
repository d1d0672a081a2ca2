/**
 * The conditions the test kit's waits check, on the views (the same in every
 * mode), and the polling wait of the modes that run in real time.
 */
import { describeViews, WaitTimeoutError, type Views, type WaitOptions } from './types.ts'

export const DEFAULT_TIMEOUT_MS = 60_000

/** Every agent in `up` lists every one of them `alive`. */
export function allSeeAlive (views: Views, up: number[], peerIdOf: (i: number) => string): boolean {
  return up.every(i => views[i] != null && up.every(j => views[i]?.find(m => m.peerId === peerIdOf(j))?.status === 'alive'))
}

/** Agent `observer` lists `peerId` with `status` (and `cause`, if given). */
export function sees (views: Views, observer: number, peerId: string, status: string, cause?: string): boolean {
  const m = views[observer]?.find(x => x.peerId === peerId)
  return m != null && m.status === status && (cause == null || m.cause === cause)
}

/** The agents that are up agree on who is alive. */
export function oneAliveSet (views: Views): boolean {
  const alive = views.filter(v => v != null).map(v => v.filter(m => m.status === 'alive').map(m => m.peerId).sort().join())
  return alive.every(a => a === alive[0])
}

/** The indexes 0 … size − 1 not in `down`. */
export function upIndexes (size: number, down: ReadonlySet<number>): number[] {
  return Array.from({ length: size }, (_, i) => i).filter(i => !down.has(i))
}

/** The error of a wait that ran out: what it waited for, and every agent's last view (`note`: how to replay it). */
export function timedOut (opts: WaitOptions, views: Views, note = ''): WaitTimeoutError {
  return new WaitTimeoutError(`${opts.what ?? 'the condition'} did not hold within ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms${note}; the views:\n${describeViews(views)}`, views)
}

/** Polls `views` every `everyMs` of real time until `pred` holds; on timeout rejects with every view. */
export async function pollUntil (views: () => Views | Promise<Views>, pred: (v: Views) => boolean, opts: WaitOptions, everyMs = 50): Promise<Views> {
  const end = performance.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  for (;;) {
    const v = await views()
    if (pred(v)) return v
    if (performance.now() >= end) throw timedOut(opts, v)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}
