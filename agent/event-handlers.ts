/**
 * Event-handler scripts, like Serf's: `--event-handler [FILTER=]COMMAND`
 * runs COMMAND (through /bin/sh -c) on this agent when an event of FILTER
 * happens: member events, user events, queries (its stdout is the answer),
 * and this agent's own partition and degraded-member events.
 *
 * Each handler runs one event at a time, in arrival order, each bounded by a
 * timeout; a slow handler never blocks membership (events wait in its queue).
 * Past MAX_QUEUED events a new one is folded into a queued one of the same
 * kind (member events: their members joined; user events of one name: the
 * latest kept) and counted as coalesced. A handler that fails, hangs or
 * cannot start is counted and logged, never fatal. Handlers are this agent's
 * own configuration: they need no --allow-exec.
 */
import { spawn } from 'node:child_process'

export const HANDLER_EVENTS = [
  'member-join', 'member-leave', 'member-failed', 'member-update', 'member-reap',
  'user', 'query', 'partition-detected', 'partition-healed', 'member-degraded'
] as const
export type HandlerEventType = typeof HANDLER_EVENTS[number]

/** One member's line on a handler's stdin. */
export interface HandlerMember { name: string, peerId: string, status: string, cause?: string, tags: Record<string, string> }

export type HandlerEvent =
  | { type: Exclude<HandlerEventType, 'user' | 'query'>, members: HandlerMember[] }
  | { type: 'user', name: string, payload: string, ltime: number }
  | { type: 'query', name: string, payload: string, ltime: number }

interface Filter { type: HandlerEventType, name?: string }

export interface HandlerSpec {
  /** Empty: every event. */
  filters: Filter[]
  command: string
}

export class InvalidHandlerError extends Error {
  override name = 'InvalidHandlerError'
}

/** `[FILTER=]COMMAND`, FILTER a comma list of event types, `user:NAME` or `query:NAME`. */
export function parseHandler (spec: string): HandlerSpec {
  const eq = spec.indexOf('=')
  const head = eq > 0 ? spec.slice(0, eq) : ''
  const looksLikeFilter = /^[a-z-]+(:[A-Za-z0-9_.-]+)?(,[a-z-]+(:[A-Za-z0-9_.-]+)?)*$/.test(head)
  const command = (looksLikeFilter ? spec.slice(eq + 1) : spec).trim()
  if (command === '') throw new InvalidHandlerError(`--event-handler "${spec}" has no command`)
  if (!looksLikeFilter) return { filters: [], command }
  const filters = head.split(',').map(f => {
    const [type, name] = f.split(':')
    if (!(HANDLER_EVENTS as readonly string[]).includes(type)) throw new InvalidHandlerError(`unknown event filter "${type}" (${HANDLER_EVENTS.join(', ')})`)
    if (name != null && type !== 'user' && type !== 'query') throw new InvalidHandlerError(`only user and query filters take a name, got "${f}"`)
    return { type: type as HandlerEventType, name }
  })
  return { filters, command }
}

/** Events waiting per handler before new ones are coalesced into them. */
export const MAX_QUEUED = 128
export const HANDLER_TIMEOUT_MS = 30_000
/** A query answer (the handler's stdout) is cut here. */
export const MAX_ANSWER_BYTES = 64 * 1024

export interface HandlerStats { ran: number, failed: number, timedOut: number, coalesced: number, queued: number }

interface Queued { event: HandlerEvent, done?: (answer: string | undefined) => void }

class Handler {
  readonly spec: HandlerSpec
  readonly queue: Queued[] = []
  busy = false
  constructor (spec: HandlerSpec) { this.spec = spec }

  matches (event: HandlerEvent): boolean {
    if (this.spec.filters.length === 0) return true
    return this.spec.filters.some(f => f.type === event.type && (f.name == null || ('name' in event && f.name === event.name)))
  }
}

export class EventHandlers {
  readonly #handlers: Handler[]
  readonly #env: Record<string, string>
  readonly #log: (message: string) => void
  readonly #timeoutMs: number
  readonly #stats: HandlerStats = { ran: 0, failed: 0, timedOut: 0, coalesced: 0, queued: 0 }

  constructor (specs: HandlerSpec[], self: { name: string, id: string, tags: Record<string, string> }, log: (message: string) => void, timeoutMs = HANDLER_TIMEOUT_MS) {
    this.#handlers = specs.map(s => new Handler(s))
    this.#log = log
    this.#timeoutMs = timeoutMs
    this.#env = { AGENT_SELF_NAME: self.name, AGENT_SELF_ID: self.id }
    for (const [key, value] of Object.entries(self.tags)) this.#env[`AGENT_TAG_${key.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`] = value
  }

  get size (): number {
    return this.#handlers.length
  }

  /** Queues `event` for every handler whose filter takes it. */
  emit (event: HandlerEvent): void {
    // each handler its own copy: coalescing folds members into a queued event of one handler only
    for (const h of this.#handlers) if (h.matches(event)) this.#enqueue(h, { event: 'members' in event ? { ...event, members: [...event.members] } : event })
  }

  /** A query: the first matching handler's stdout (undefined when none matches, or it failed). */
  async answer (event: Extract<HandlerEvent, { type: 'query' }>): Promise<string | undefined> {
    const h = this.#handlers.find(x => x.matches(event))
    if (h == null) return undefined
    return await new Promise(resolve => { this.#enqueue(h, { event, done: resolve }) })
  }

  stats (): HandlerStats {
    return { ...this.#stats, queued: this.#handlers.reduce((n, h) => n + h.queue.length, 0) }
  }

  #enqueue (h: Handler, item: Queued): void {
    if (h.queue.length >= MAX_QUEUED && item.done == null && this.#coalesce(h, item.event)) {
      this.#stats.coalesced++
      return
    }
    if (h.queue.length >= MAX_QUEUED * 2) { // nothing to fold it into: dropped, counted
      this.#stats.coalesced++
      item.done?.(undefined)
      return
    }
    h.queue.push(item)
    void this.#pump(h)
  }

  /** Folds `event` into a queued one of the same kind; false when there is none. */
  #coalesce (h: Handler, event: HandlerEvent): boolean {
    for (let i = h.queue.length - 1; i >= 0; i--) {
      const queued = h.queue[i]
      if (queued.done != null || queued.event.type !== event.type) continue
      if ('members' in queued.event && 'members' in event) {
        // one line per member: a later event about the same member replaces its line
        const ids = new Set(event.members.map(m => m.peerId))
        queued.event.members = [...queued.event.members.filter(m => !ids.has(m.peerId)), ...event.members]
        return true
      }
      if (event.type === 'user' && queued.event.type === 'user' && queued.event.name === event.name) {
        h.queue[i] = { event }
        return true
      }
    }
    return false
  }

  async #pump (h: Handler): Promise<void> {
    if (h.busy) return
    h.busy = true
    try {
      for (let item = h.queue.shift(); item != null; item = h.queue.shift()) {
        const answer = await this.#run(h.spec.command, item.event)
        item.done?.(answer)
      }
    } finally {
      h.busy = false
    }
  }

  /** Runs one handler for one event; its stdout (bounded) when it exited 0. */
  async #run (command: string, event: HandlerEvent): Promise<string | undefined> {
    const env: Record<string, string> = { ...process.env as Record<string, string>, ...this.#env, AGENT_EVENT: event.type }
    let stdin: string
    if ('members' in event) {
      stdin = event.members.map(m => [m.name, m.peerId, m.status, m.cause ?? '', Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(',')].join('\t') + '\n').join('')
    } else {
      env[event.type === 'user' ? 'AGENT_USER_EVENT' : 'AGENT_QUERY_NAME'] = event.name
      env.AGENT_LTIME = String(event.ltime)
      stdin = event.payload
    }
    return await new Promise(resolve => {
      // its own process group: a timeout kills what the script started too, whose open pipes would hold 'close' back
      const child = spawn('/bin/sh', ['-c', command], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
      let out = ''
      let err = ''
      const killGroup = (): void => {
        try {
          process.kill(-(child.pid as number), 'SIGKILL')
        } catch {
          child.kill('SIGKILL')
        }
      }
      const timer = setTimeout(() => {
        this.#stats.timedOut++
        this.#log(`event handler "${command}" for ${event.type} timed out after ${this.#timeoutMs} ms; killed`)
        killGroup()
      }, this.#timeoutMs)
      // a background process it left holding the pipes must not keep the handler busy
      child.on('exit', () => { setTimeout(() => { child.stdout.destroy(); child.stderr.destroy() }, 1000).unref() })
      child.stdout.setEncoding('utf8').on('data', (d: string) => { if (out.length < MAX_ANSWER_BYTES) out += d })
      child.stderr.setEncoding('utf8').on('data', (d: string) => { if (err.length < 4096) err += d })
      child.stdin.on('error', () => {}) // a handler that does not read its stdin
      child.stdin.end(stdin)
      child.on('error', e => { err += e.message })
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        this.#stats.ran++
        if (code === 0) { resolve(out.slice(0, MAX_ANSWER_BYTES)); return }
        this.#stats.failed++
        this.#log(`event handler "${command}" for ${event.type} ${signal != null ? `killed by ${signal}` : `exited with ${String(code)}`}${err !== '' ? `: ${err.trim().split('\n').at(-1) ?? ''}` : ''}`)
        resolve(undefined)
      })
    })
  }
}

/** The agent's events that handlers see, by the name handlers filter on. */
const FROM_AGENT_EVENTS = {
  'member:join': 'member-join',
  'member:leave': 'member-leave',
  'member:failed': 'member-failed',
  'member:update': 'member-update',
  'member:reap': 'member-reap',
  'member:degraded': 'member-degraded'
} as const

interface MemberLike { name: string, peerId: string, status: string, cause?: string | null, tags: Record<string, string> }

/** Feeds `handlers` from an agent's member and partition events (`on` is the agent's). */
export function feedHandlers (handlers: EventHandlers, on: (type: string, listener: (payload: any) => void) => unknown, memberOf: (peerId: string) => MemberLike | undefined): void {
  const line = (m: MemberLike): HandlerMember => ({ name: m.name, peerId: m.peerId, status: m.status, ...(m.cause != null ? { cause: m.cause } : {}), tags: m.tags })
  for (const [from, type] of Object.entries(FROM_AGENT_EVENTS)) {
    on(from, (m: MemberLike) => { handlers.emit({ type, members: [line(m)] }) })
  }
  for (const type of ['partition-detected', 'partition-healed'] as const) {
    on(type.replace('-', ':'), (e: { members: string[] }) => {
      handlers.emit({ type, members: e.members.map(id => memberOf(id)).filter(m => m != null).map(line) })
    })
  }
}
