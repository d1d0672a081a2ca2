/**
 * User events (`agent event NAME PAYLOAD`): published on the work topic to
 * every member, deduplicated by id, ordered by a Lamport clock, and repaired
 * by anti-entropy: every ANTI_ENTROPY_MS, while it has recent events (or
 * for a while after a member came back), an agent sends their ids to one
 * random member, which answers with the events the first lacks and asks for
 * those it lacks. When a member comes back, the agent makes that exchange
 * with it at once (memberReturned): a heal does not wait for the random
 * rounds to pick the right pairs. A member cut off by a partition, or
 * restarted, gets what it missed within the log's window (user-event-log.ts);
 * with a --data-dir the ids it delivered survive the restart, so it does not
 * deliver them twice.
 *
 * Coalescing (`--coalesce`): events of one name that arrive within
 * COALESCE_MS of each other are delivered once, the last one, like Serf.
 */
import { readFile } from 'node:fs/promises'
import { writeDataFile } from './data-file.ts'
import { join } from 'node:path'
import type { OperatorMessage, WireMessage } from '../gossip/index.ts'
import { byteLength, USER_EVENT_LIMITS, USER_EVENT_NAME, UserEventLog, type UserEvent } from './user-event-log.ts'

export const ANTI_ENTROPY_MS = 5000
export const COALESCE_MS = 1000
/** After a member comes back, this agent's rounds pull (send its ids even when it has none) for this long. */
export const PULL_AFTER_RETURN_MS = 30_000
const FILE = 'events.json'

export class InvalidUserEventError extends Error {
  override name = 'InvalidUserEventError'
}

export interface UserEventView { id: string, name: string, payload: string, ltime: number }

export interface UserEventsOptions {
  selfId: string
  dataDir?: string
  transport: { publish: (msg: WireMessage) => void, send: (to: string, msg: WireMessage) => void }
  clock: () => number
  /** Members to pick an anti-entropy partner from. */
  alivePeers: () => string[]
  deliver: (event: UserEventView) => void
  warn: (message: string) => void
}

export class UserEvents {
  readonly #opts: UserEventsOptions
  readonly #log: UserEventLog
  readonly #timer: ReturnType<typeof setInterval>
  readonly #coalescing = new Map<string, { event: UserEvent, timer: ReturnType<typeof setTimeout> }>()
  #saveTimer: ReturnType<typeof setTimeout> | undefined
  #lastReturnExchange = -Infinity
  #pullUntil = -Infinity

  constructor (opts: UserEventsOptions, persisted?: { ltime: number, ids: string[] }) {
    this.#opts = opts
    this.#log = new UserEventLog(persisted)
    this.#timer = setInterval(() => { this.antiEntropyRound() }, ANTI_ENTROPY_MS)
    this.#timer.unref?.()
  }

  static async create (opts: UserEventsOptions): Promise<UserEvents> {
    let persisted: { ltime: number, ids: string[] } | undefined
    if (opts.dataDir != null) {
      try {
        const raw = JSON.parse(await readFile(join(opts.dataDir, FILE), 'utf8')) as { ltime?: unknown, ids?: unknown }
        if (Number.isSafeInteger(raw.ltime) && Array.isArray(raw.ids)) persisted = { ltime: raw.ltime as number, ids: raw.ids.filter((id): id is string => typeof id === 'string') }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.warn(`could not read ${FILE}: ${(err as Error).message}`)
      }
    }
    return new UserEvents(opts, persisted)
  }

  get ltime (): number {
    return this.#log.ltime
  }

  /** Fires an event from this agent: delivered here and to every member. Throws InvalidUserEventError. */
  fire (name: string, payload: string, coalesce: boolean): UserEventView {
    if (name.length > USER_EVENT_LIMITS.nameChars || !USER_EVENT_NAME.test(name)) throw new InvalidUserEventError(`the event name must be 1-${USER_EVENT_LIMITS.nameChars} chars of letters, digits, _ . : - (not starting with _ . : -)`)
    const bytes = byteLength(payload)
    if (bytes > USER_EVENT_LIMITS.payloadBytes) throw new InvalidUserEventError(`the payload is ${bytes} bytes, over the limit of ${USER_EVENT_LIMITS.payloadBytes}`)
    const event = this.#log.create(this.#opts.clock(), this.#opts.selfId, name, payload, coalesce)
    this.#opts.transport.publish({ type: 'user-event', event })
    this.#deliver(event)
    return view(event)
  }

  receive (from: string, msg: OperatorMessage): void {
    const now = this.#opts.clock()
    switch (msg.type) {
      case 'user-event':
        if (this.#log.receive(now, msg.event)) this.#deliver(msg.event)
        return
      case 'user-events-ids': {
        const missing = this.#log.missingFrom(now, msg.ids)
        const want = this.#log.unknown(msg.ids)
        if (missing.length > 0 || want.length > 0) this.#opts.transport.send(from, { type: 'user-events', events: missing.slice(-256), want: want.slice(0, 1024) })
        return
      }
      case 'user-events':
        for (const event of msg.events) if (this.#log.receive(now, event)) this.#deliver(event)
        if (msg.want.length > 0) {
          const events = this.#log.withIds(msg.want)
          if (events.length > 0) this.#opts.transport.send(from, { type: 'user-events', events, want: [] })
        }
    }
  }

  /**
   * `peer` is back after it failed or left (a partition healed, it
   * restarted): send it this agent's ids now, even none, so that each side
   * gets what the other has (the random rounds only start from members with
   * events, and may take many rounds to pick this pair). One such exchange per
   * ANTI_ENTROPY_MS: after a heal, one member of the other side is enough,
   * and N members coming back at once cost one message, not N.
   */
  memberReturned (peer: string): void {
    const now = this.#opts.clock()
    // the exchange below can be lost (a send over a connection the heal has
    // not revived yet): the rounds pull as well for a while
    this.#pullUntil = now + PULL_AFTER_RETURN_MS
    if (now - this.#lastReturnExchange < ANTI_ENTROPY_MS) return
    this.#lastReturnExchange = now
    this.#opts.transport.send(peer, { type: 'user-events-ids', ids: this.#log.ids(now) })
  }

  stop (): void {
    clearInterval(this.#timer)
    for (const { timer } of this.#coalescing.values()) clearTimeout(timer)
    if (this.#saveTimer != null) { clearTimeout(this.#saveTimer); void this.#save() }
  }

  /** One anti-entropy round, as the timer runs it every ANTI_ENTROPY_MS. */
  antiEntropyRound (): void {
    const now = this.#opts.clock()
    const ids = this.#log.ids(now)
    const peers = this.#opts.alivePeers()
    if ((ids.length === 0 && now >= this.#pullUntil) || peers.length === 0) return
    this.#opts.transport.send(peers[Math.floor(Math.random() * peers.length)], { type: 'user-events-ids', ids })
  }

  #deliver (event: UserEvent): void {
    this.#scheduleSave()
    if (!event.coalesce) { this.#opts.deliver(view(event)); return }
    const held = this.#coalescing.get(event.name)
    if (held != null) {
      if (held.event.ltime <= event.ltime) held.event = event
      return
    }
    const timer = setTimeout(() => {
      const last = this.#coalescing.get(event.name)
      this.#coalescing.delete(event.name)
      if (last != null) this.#opts.deliver(view(last.event))
    }, COALESCE_MS)
    this.#coalescing.set(event.name, { event, timer })
  }

  #scheduleSave (): void {
    if (this.#opts.dataDir == null || this.#saveTimer != null) return
    this.#saveTimer = setTimeout(() => { this.#saveTimer = undefined; void this.#save() }, 1000)
    this.#saveTimer.unref?.()
  }

  async #save (): Promise<void> {
    const dir = this.#opts.dataDir as string
    try {
      await writeDataFile(dir, FILE, this.#log.persisted())
    } catch (err) {
      this.#opts.warn(`could not store the user events' clock in ${dir}: ${(err as Error).message}`)
    }
  }
}

function view (event: UserEvent): UserEventView {
  return { id: event.id, name: event.name, payload: event.payload, ltime: event.ltime }
}
