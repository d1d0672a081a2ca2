/**
 * What every mode of the test kit shares: the waits on the views and their
 * conditions, the polling of the modes that run in real time, agent indexes
 * and member events.
 */
import { describeViews, WaitTimeoutError, type JobView, type MemberView, type TestEvent, type Views, type WaitOptions } from './types.ts'

export const DEFAULT_TIMEOUT_MS = 60_000

/** Every agent in `up` lists every one of them `alive`. */
function allSeeAlive (views: Views, up: number[], peerIdOf: (i: number) => string): boolean {
  return up.every(i => views[i] != null && up.every(j => views[i]?.find(m => m.peerId === peerIdOf(j))?.status === 'alive'))
}

/** Agent `observer` lists `peerId` with `status` (and `cause`, if given). */
function sees (views: Views, observer: number, peerId: string, status: string, cause?: string): boolean {
  const m = views[observer]?.find(x => x.peerId === peerId)
  return m != null && m.status === status && (cause == null || m.cause === cause)
}

/** The agents that are up agree on who is alive. */
export function oneAliveSet (views: Views): boolean {
  const alive = views.filter(v => v != null).map(v => v.filter(m => m.status === 'alive').map(m => m.peerId).sort().join())
  return alive.every(a => a === alive[0])
}

/** The indexes 0 … size − 1 not in `down`. */
function upIndexes (size: number, down: ReadonlySet<number>): number[] {
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

/** Agent index `i`, or a RangeError if the cluster has no such agent. */
export function checkIndex (i: number, size: number): number {
  if (!Number.isInteger(i) || i < 0 || i >= size) throw new RangeError(`no agent ${i} (the cluster has agents 0 to ${size - 1})`)
  return i
}

/** A member event as agent `observer` saw it: the member's name, status and cause after it (no cause once alive). */
export function testEvent (at: number, observer: number, type: string, m: { name: string, status: MemberView['status'], cause?: MemberView['cause'] | null }): TestEvent {
  return { at, observer, type, member: m.name, status: m.status, ...(m.cause != null && m.status !== 'alive' ? { cause: m.cause } : {}) }
}

/** What every mode's waits need of its cluster. */
interface Waitable {
  size: number
  until: (pred: (views: Views) => boolean, opts?: WaitOptions) => Promise<Views>
}

/** Until every agent not in `down` sees every one of them alive (agents still starting count as up). */
export async function untilConverged (cluster: Waitable, down: ReadonlySet<number>, peerIdOf: (i: number) => string, opts: WaitOptions): Promise<Views> {
  const up = upIndexes(cluster.size, down)
  return await cluster.until(views => allSeeAlive(views, up, peerIdOf), { what: 'every agent that is up sees every one alive', ...opts })
}

/** Until agent `observer` sees agent `member` (peer id `about`) with `status` (and `cause`). */
export async function untilMemberIs (cluster: Waitable, observer: number, member: number, about: string, status: string, cause: string | undefined, opts: WaitOptions): Promise<Views> {
  checkIndex(observer, cluster.size)
  return await cluster.until(views => sees(views, observer, about, status, cause), { what: `agent ${observer} sees agent ${member} ${status}${cause != null ? ` (${cause})` : ''}`, ...opts })
}

/** The real modes' jobDone: asks for the job every 100 ms until it has ended; on timeout rejects with every view. */
export async function pollJob (id: string, ask: () => Promise<JobView | undefined>, views: () => Views | Promise<Views>, opts: WaitOptions): Promise<JobView> {
  const end = performance.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  for (;;) {
    const job = await ask()
    if (job != null && job.status !== 'running') return job
    if (performance.now() >= end) throw timedOut({ what: `job ${id} ended`, ...opts }, await views())
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
