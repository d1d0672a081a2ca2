/**
 * How this agent's join is going (`--join`): the core reports each seed it
 * could not reach and the seed that answered (membership JoinEvent); this
 * keeps the last error for `GET /v1/health` and turns the reports into the
 * `join:failed` and `join:done` events the CLI prints.
 */
import type { Destination, JoinEvent, Member } from '../membership/index.ts'

export const JOIN_EVENT_TYPES = ['join:failed', 'join:done'] as const
export type JoinEventName = typeof JOIN_EVENT_TYPES[number]

export type JoinEventView =
  /** A seed could not be reached; the join goes again in `retryInMs`. `error` says it in words. */
  | { type: 'join:failed', seed: string, reason: string, retryInMs: number, error: string }
  /** A seed answered: this agent is in the cluster. */
  | { type: 'join:done', via: string, peerId: string }

const REASON_WORDS: Record<string, string> = {
  refused: 'refused (is an agent listening there?)',
  timeout: 'timed out',
  error: 'failed',
}

function seedText (seed: Destination): string {
  return seed.addrs[0] != null ? `${seed.addrs[0]}${seed.id != null ? `/p2p/${seed.id}` : ''}` : seed.id ?? '?'
}

export class JoinProgress {
  /** A join is under way: asked for and no seed has answered yet. */
  #pending: boolean
  #lastError?: string
  #waiters: Array<{ resolve: () => void, reject: (err: Error) => void }> = []

  constructor (joining: boolean) {
    this.#pending = joining
  }

  /** Resolves once no join is under way: at once without one, else when a seed answers. */
  async joined (): Promise<void> {
    if (!this.#pending) return
    await new Promise<void>((resolve, reject) => { this.#waiters.push({ resolve, reject }) })
  }

  /** The agent stopped: whoever waits for the join is told it will not come. */
  abandon (): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('the agent stopped before it joined the cluster'))
  }

  /** The event to dispatch for the core's report. `memberOf` finds a member by id (for the name of the seed that answered). */
  update (event: JoinEvent, memberOf: (id: string) => Member | undefined): JoinEventView {
    if (event.type === 'join:done') {
      this.#pending = false
      this.#lastError = undefined
      for (const waiter of this.#waiters.splice(0)) waiter.resolve()
      return { type: 'join:done', via: memberOf(event.via)?.name ?? event.via, peerId: event.via }
    }
    const seed = seedText(event.seed)
    const error = `${seed} ${REASON_WORDS[event.reason] ?? event.reason}`
    this.#lastError = error
    return { type: 'join:failed', seed, reason: event.reason, retryInMs: event.retryInMs, error }
  }

  /** For `GET /v1/health`: `joined` is false while a join is under way; `joinError` is its last failure. */
  view (): { joined: boolean, joinError?: string } {
    return this.#pending && this.#lastError != null ? { joined: false, joinError: this.#lastError } : { joined: !this.#pending }
  }
}
