/**
 * Every agent's member list, kept from its `GET /v1/events` stream (one
 * `GET /v1/members` when the stream opens, then each member event applied).
 * This tells when every agent lists all N alive without polling N agents'
 * member lists: at 100 agents polling would itself be a load on the CPU the
 * agents are short of while they start. The time of a change is when its
 * event arrived here, so it is late by the stream's latency, not by a period.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { MemberView } from '../agent/member-view.ts'
import { readEvents } from '../testkit/event-stream.ts'
import type { AgentProcess } from '../test/integration/harness.ts'

export interface ViewEvent {
  at: number
  /** Name of the agent that reported it. */
  observer: string
  /** `member:failed` etc.; `snapshot` for a member first seen in the initial list. */
  type: string
  peerId: string
  status: string
  /** Why a member not alive is so (`unreachable`, `refused`, `partition`…), when the agent said. */
  cause?: string
}

interface Observer {
  /** peer id → status, once the initial list is in. */
  view?: Map<string, string>
  alive: number
  /** Events that arrived before the initial list, applied after it (in order: the last one is the latest state). */
  early: Array<{ type: string, member: MemberView, at: number }>
}

export class ClusterViews {
  readonly events: ViewEvent[] = []
  /** First time every one of the `size` agents listed `size` members alive. */
  fullAt: number | undefined
  /** Last time that became true (a suspicion of a live member in one view makes it false again). */
  lastFullAt: number | undefined
  /** A stream or initial list that failed (the agent went away or did not answer). */
  readonly errors: string[] = []
  readonly #size: number
  readonly #observers = new Map<string, Observer>()
  readonly #controllers: AbortController[] = []
  #full = 0
  #wasFull = false

  constructor (size: number) { this.#size = size }

  /**
   * Follows one agent; resolves once its initial member list is applied.
   * Each request is tried again for up to `retryMs`: an agent starved of CPU
   * may answer 408 (its event loop read the request only after the header
   * timeout) or drop the connection, and that is the load under test, not a
   * reason to give up on it.
   */
  async watch (agent: AgentProcess, retryMs = 60_000): Promise<void> {
    const observer: Observer = { alive: 0, early: [] }
    this.#observers.set(agent.name, observer)
    const controller = new AbortController()
    this.#controllers.push(controller)
    const end = performance.now() + retryMs
    const get = async (path: string, signal: () => AbortSignal): Promise<Response> => {
      for (;;) {
        try {
          const res = await fetch(`http://${agent.rpc}${path}`, { signal: signal() })
          if (res.ok && res.body != null) return res
          await res.body?.cancel()
          throw new Error(`HTTP ${res.status}`)
        } catch (err) {
          if (controller.signal.aborted || performance.now() >= end) throw new Error(`GET ${path} of ${agent.name}: ${(err as Error).message}`)
          await sleep(250)
        }
      }
    }
    const res = await get('/v1/events', () => controller.signal)
    void this.#read(agent.name, observer, res.body!)
    // The stream is open before the list is asked for: nothing falls between the two.
    const list = await get('/v1/members', () => AbortSignal.any([controller.signal, AbortSignal.timeout(30_000)]))
    const members = await list.json() as MemberView[]
    const at = performance.now()
    observer.view = new Map()
    for (const m of members) {
      this.#set(observer, m.peerId, m.status)
      if (m.status !== 'alive') this.events.push({ at, observer: agent.name, type: `snapshot:${m.status}`, peerId: m.peerId, status: m.status, cause: m.cause })
    }
    for (const e of observer.early) this.#apply(agent.name, observer, e.type, e.member, e.at)
    observer.early = []
    this.#check(at)
  }

  /** Number of agents whose list shows all `size` alive right now. */
  get fullCount (): number { return this.#full }

  /** How many members each followed agent lists alive, smallest first: where a start that did not converge got to. */
  aliveCounts (): number[] {
    return [...this.#observers.values()].filter(o => o.view != null).map(o => o.alive).sort((a, b) => a - b)
  }

  /**
   * Members whose status in the list kept here differs from `members`, the
   * agent's own `GET /v1/members` (a check of this way of following views).
   */
  mismatches (observer: string, members: MemberView[]): number {
    const view = this.#observers.get(observer)?.view
    if (view == null) return members.length
    let wrong = Math.abs(view.size - members.length)
    for (const m of members) if (view.get(m.peerId) !== m.status) wrong++
    return wrong
  }

  /** The `k` agents that list the fewest members alive, as "name: count". */
  smallest (k: number): string {
    return [...this.#observers].filter(([, o]) => o.view != null).sort(([, a], [, b]) => a.alive - b.alive).slice(0, k)
      .map(([name, o]) => `${name}: ${o.alive}`).join(', ')
  }

  /**
   * For each followed agent whose list does not show every one of `peerIds`
   * alive (at most `k` of them): the members it lacks and how it lists them
   * (a status, or `unknown`). What a start that nearly converged waits for.
   */
  gaps (peerIds: Map<string, string>, k: number): string {
    const lines: string[] = []
    for (const [name, o] of this.#observers) {
      if (o.view == null || o.alive >= this.#size || lines.length >= k) continue
      const lacking = [...peerIds].filter(([id]) => o.view?.get(id) !== 'alive').map(([id, member]) => `${member} ${o.view?.get(id) ?? 'unknown'}`)
      lines.push(`${name} lacks ${lacking.join(', ')}`)
    }
    return lines.join('; ')
  }

  /** Status of `peerId` in `observer`'s list (undefined: not listed, or not followed yet). */
  status (observer: string, peerId: string): string | undefined {
    return this.#observers.get(observer)?.view?.get(peerId)
  }

  /**
   * Failed marks (events, or `failed` in an initial list) of members not in
   * `targets`, reported at or after `since` and before `until`.
   */
  falseFailures (targets: Set<string>, since: number, until = Infinity, observers?: Set<string>): ViewEvent[] {
    return this.#marks('failed', targets, since, until, observers)
  }

  /** Like falseFailures, for suspicions (a step short of failed; the member may refute it). */
  suspicions (targets: Set<string>, since: number, until = Infinity): ViewEvent[] {
    return this.#marks('suspect', targets, since, until)
  }

  /**
   * Only the transition events count: `member:unreachable` and
   * `member:update` also carry a suspect or failed status, but repeat a mark
   * already made.
   */
  #marks (status: string, targets: Set<string>, since: number, until: number, observers?: Set<string>): ViewEvent[] {
    const types = new Set([`member:${status}`, `snapshot:${status}`])
    return this.events.filter(e => types.has(e.type) && e.at >= since && e.at < until &&
      !targets.has(e.peerId) && (observers == null || observers.has(e.observer)))
  }

  /** First time any of `observers` reported `peerId` with one of `statuses` at or after `since`. */
  first (peerId: string, statuses: string[], observers: string[], since: number): number | undefined {
    const set = new Set(observers)
    return this.events.find(e => e.at >= since && e.peerId === peerId && statuses.includes(e.status) && set.has(e.observer))?.at
  }

  /** Time by which every one of `observers` reported `peerId` with `status` (after `since`), or undefined. */
  allSaw (peerId: string, status: string, observers: string[], since: number): number | undefined {
    const pending = new Set(observers)
    for (const e of this.events) {
      if (e.at < since || e.peerId !== peerId || e.status !== status || !pending.has(e.observer)) continue
      pending.delete(e.observer)
      if (pending.size === 0) return e.at
    }
    return undefined
  }

  close (): void {
    for (const c of this.#controllers) c.abort()
  }

  async #read (name: string, observer: Observer, body: NonNullable<Response['body']>): Promise<void> {
    try {
      await readEvents(body, (type, member) => {
        if (!type.startsWith('member:')) return
        const at = performance.now()
        if (observer.view == null) observer.early.push({ type, member, at })
        else this.#apply(name, observer, type, member, at)
      })
    } catch (err) {
      if ((err as Error).name !== 'AbortError') this.errors.push(`${name}: ${(err as Error).message}`)
    }
  }

  #apply (name: string, observer: Observer, type: string, member: MemberView, at: number): void {
    // A reaped member leaves the list; every other event carries the member's status after it.
    const status = type === 'member:reap' ? undefined : member.status
    this.events.push({ at, observer: name, type, peerId: member.peerId, status: status ?? 'reaped', cause: member.cause })
    this.#set(observer, member.peerId, status)
    this.#check(at)
  }

  #set (observer: Observer, peerId: string, status: string | undefined): void {
    const view = observer.view!
    const wasFull = observer.alive === this.#size
    if (view.get(peerId) === 'alive') observer.alive--
    if (status == null) view.delete(peerId)
    else view.set(peerId, status)
    if (status === 'alive') observer.alive++
    const isFull = observer.alive === this.#size
    if (wasFull !== isFull) this.#full += isFull ? 1 : -1
  }

  #check (at: number): void {
    const full = this.#full === this.#size
    if (full && !this.#wasFull) {
      this.fullAt ??= at
      this.lastFullAt = at
    }
    this.#wasFull = full
  }
}
