/**
 * What operators automate a cluster with, like Serf's: user events
 * (user-events.ts), queries (queries.ts) and the event-handler scripts that
 * react to both and to member events (event-handlers.ts), wired to one agent.
 */
import type { Membership } from '../membership/index.ts'
import type { OperatorMessage, WireMessage } from '../gossip/index.ts'
import type { ResolvedAgentOptions } from './config.ts'
import { EventHandlers, feedHandlers, type HandlerStats } from './event-handlers.ts'
import { Queries, type QueryProgress, type QueryRequest, type QueryResponder, type QueryResult } from './queries.ts'
import { UserEvents, type UserEventView } from './user-events.ts'
import { clock } from './real-timers.ts'

export { InvalidQueryError } from './queries.ts'
export type { QueryProgress, QueryRequest, QueryResponder, QueryResult } from './queries.ts'
export { InvalidUserEventError } from './user-events.ts'
export type { UserEventView } from './user-events.ts'

/** `agent.queries`: answer queries here, or run one across the cluster. */
export interface QueriesApi {
  handle: (name: string, fn: QueryResponder) => void
  run: (req: QueryRequest, onProgress?: (p: QueryProgress) => void) => Promise<QueryResult>
}

export interface OperatorHooks {
  core: Membership
  transport: { publish: (msg: WireMessage) => void, send: (to: string, msg: WireMessage) => void }
  /** The agent's `on`, for the handlers to follow member events. */
  on: (type: string, listener: (payload: any) => void) => unknown
  /** A member's public view by peer id (for the handlers' member lines). */
  memberView: (id: string) => { name: string, peerId: string, status: string, cause?: string | null, tags: Record<string, string> } | undefined
  /** Emits `user:event` on the agent. */
  delivered: (event: UserEventView) => void
  warn: (message: string) => void
}

export class Operator {
  readonly events: UserEvents
  readonly queries: QueriesApi
  readonly #queries: Queries
  readonly #handlers: EventHandlers

  private constructor (events: UserEvents, queries: Queries, handlers: EventHandlers) {
    this.events = events
    this.#queries = queries
    this.#handlers = handlers
    this.queries = {
      handle: (name, fn) => { queries.handle(name, fn) },
      run: async (req, onProgress) => await queries.run(req, onProgress)
    }
  }

  static async create (options: ResolvedAgentOptions, hooks: OperatorHooks): Promise<Operator> {
    const { core } = hooks
    const self = { id: core.self.id, name: options.name, tags: options.tags }
    const handlers = new EventHandlers(options.eventHandlers, self, hooks.warn)
    if (handlers.size > 0) feedHandlers(handlers, hooks.on, hooks.memberView)
    const alive = (): Array<{ id: string, name: string, tags: Record<string, string> }> =>
      core.members().filter(m => m.id !== self.id && (m.status === 'alive' || m.status === 'suspect')).map(m => ({ id: m.id, name: m.name, tags: m.tags }))
    const events = await UserEvents.create({
      selfId: self.id,
      dataDir: options.dataDir,
      transport: hooks.transport,
      clock,
      alivePeers: () => alive().map(m => m.id),
      deliver: (event) => {
        hooks.delivered(event)
        handlers.emit({ type: 'user', name: event.name, payload: event.payload, ltime: event.ltime })
      },
      warn: hooks.warn
    })
    followReturns(hooks.on, peer => { events.memberReturned(peer) })
    const queries = new Queries({
      self,
      transport: hooks.transport,
      ltime: () => events.ltime,
      alive,
      scriptAnswer: async (name, payload, ltime) => await handlers.answer({ type: 'query', name, payload, ltime })
    })
    return new Operator(events, queries, handlers)
  }

  receive (from: string, msg: OperatorMessage): void {
    if (msg.type.startsWith('user-')) this.events.receive(from, msg)
    else this.#queries.receive(from, msg)
  }

  /** The event-handler runs and queue, and the user events' Lamport time. */
  stats (): { handlers: HandlerStats, userEvents: { ltime: number } } {
    return { handlers: this.#handlers.stats(), userEvents: { ltime: this.events.ltime } }
  }

  stop (): void {
    this.events.stop()
  }
}

/** Calls `returned` when a member this agent saw fail or leave is alive again. */
export function followReturns (on: OperatorHooks['on'], returned: (peer: string) => void): void {
  // bounded by the members: reaping forgets one
  const away = new Set<string>()
  const gone = (m: { peerId: string }): void => { away.add(m.peerId) }
  const back = (m: { peerId: string }): void => { if (away.delete(m.peerId)) returned(m.peerId) }
  on('member:failed', gone)
  on('member:leave', gone)
  on('member:reap', (m: { peerId: string }) => { away.delete(m.peerId) })
  on('member:alive', back)
  on('member:join', back)
}
