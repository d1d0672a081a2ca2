/**
 * User events' bookkeeping, pure: a Lamport clock, the recent events this
 * agent has seen (bounded by count, bytes and age) for dedupe and for
 * anti-entropy, and what to exchange with a member whose recent events
 * differ. The agent carries it over the work transport (user-events.ts).
 */

export interface UserEvent {
  /** Unique: the origin's peer id suffix and its clock. */
  id: string
  name: string
  payload: string
  /** Lamport time at the origin. */
  ltime: number
  coalesce: boolean
  /** Core time (ms) this agent first saw it; local, never sent. */
  seenAt?: number
}

export const USER_EVENT_LIMITS = Object.freeze({
  /** Largest payload, in UTF-8 bytes (Serf's is 512 B). */
  payloadBytes: 64 * 1024,
  nameChars: 128,
  /** Recent events kept: a member cut off for longer than this (or more events) misses the oldest. */
  keepEvents: 256,
  keepBytes: 8 * 1024 * 1024,
  keepMs: 3600_000
})

export const USER_EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/

/** A string's size in UTF-8 bytes, as payloads are bounded. */
export const byteLength = (s: string): number => new TextEncoder().encode(s).byteLength

export class UserEventLog {
  #ltime = 0
  /** Recent events, oldest first. */
  readonly #recent: UserEvent[] = []
  readonly #ids = new Set<string>()
  #bytes = 0

  constructor (persisted: { ltime: number, ids: string[] } = { ltime: 0, ids: [] }) {
    this.#ltime = persisted.ltime
    // ids delivered before a restart: not delivered again when a member sends them back
    for (const id of persisted.ids) this.#ids.add(id)
  }

  get ltime (): number {
    return this.#ltime
  }

  /** A new event from this agent. */
  create (now: number, origin: string, name: string, payload: string, coalesce: boolean): UserEvent {
    const ltime = ++this.#ltime
    const event = { id: `${origin.slice(-12)}-${ltime}`, name, payload, ltime, coalesce }
    this.#keep(now, event)
    return event
  }

  /** An event from another member: true when it is new here (deliver it). */
  receive (now: number, event: UserEvent): boolean {
    this.#ltime = Math.max(this.#ltime, event.ltime)
    if (this.#ids.has(event.id)) return false
    this.#keep(now, { ...event, seenAt: undefined })
    return true
  }

  /** The ids of the recent events (what a member compares with its own). */
  ids (now: number): string[] {
    this.#expire(now)
    return this.#recent.map(e => e.id)
  }

  /** Of the recent events, those whose ids are not in `theirs`. */
  missingFrom (now: number, theirs: readonly string[]): UserEvent[] {
    this.#expire(now)
    const have = new Set(theirs)
    return this.#recent.filter(e => !have.has(e.id)).map(({ seenAt: _, ...e }) => e)
  }

  /** The recent events with these ids. */
  withIds (ids: readonly string[]): UserEvent[] {
    const wanted = new Set(ids)
    return this.#recent.filter(e => wanted.has(e.id)).map(({ seenAt: _, ...e }) => e)
  }

  /** Which of `theirs` this agent has never seen. */
  unknown (theirs: readonly string[]): string[] {
    return theirs.filter(id => !this.#ids.has(id))
  }

  /** What a restart must remember: the clock and the ids recently delivered. */
  persisted (): { ltime: number, ids: string[] } {
    return { ltime: this.#ltime, ids: [...this.#ids].slice(-USER_EVENT_LIMITS.keepEvents * 4) }
  }

  #keep (now: number, event: UserEvent): void {
    this.#ids.add(event.id)
    this.#recent.push({ ...event, seenAt: now })
    this.#bytes += byteLength(event.payload)
    this.#expire(now)
    // ids outlive the events (dedupe), within a bound
    while (this.#ids.size > USER_EVENT_LIMITS.keepEvents * 4) this.#ids.delete(this.#ids.values().next().value as string)
  }

  #expire (now: number): void {
    const limits = USER_EVENT_LIMITS
    while (this.#recent.length > 0 && (this.#recent.length > limits.keepEvents || this.#bytes > limits.keepBytes || (this.#recent[0].seenAt ?? now) < now - limits.keepMs)) {
      const gone = this.#recent.shift() as UserEvent
      this.#bytes -= byteLength(gone.payload)
    }
  }
}
