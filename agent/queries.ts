/**
 * Queries (`agent query NAME PAYLOAD --tag role=web`): the asker sends the
 * query directly to every alive member that matches all filters (itself
 * included); each acknowledges at once, runs its responder (a library
 * handler, else an event-handler script for `query:NAME`) and sends the
 * answer straight back, not through gossip, so answers are not lost or cut
 * to a gossip packet. The query ends when every matching member answered or
 * at the timeout; the members that matched but did not answer are `missing`.
 */
import type { OperatorMessage, WireMessage } from '../gossip/index.ts'
import { OPERATOR_LIMITS } from '../gossip/index.ts'

export class InvalidQueryError extends Error {
  override name = 'InvalidQueryError'
}

export interface QueryRequest {
  name: string
  payload?: string
  /** Only members with these names. */
  nodes?: string[]
  /** Only members whose tag K fully matches the regular expression. */
  tags?: Record<string, string>
  /** Default, as Serf scales it: 3.2 s × ceil(log10(matching members + 2)) (never 0, even for one member). */
  timeoutMs?: number
}

export type QueryProgress = { type: 'ack', member: string } | { type: 'response', member: string, answer: string }

export interface QueryResult {
  acks: string[]
  /** Member name → its answer. */
  responses: Record<string, string>
  /** Members that matched but did not answer in time. */
  missing: string[]
}

export type QueryResponder = (payload: string, query: { name: string, ltime: number }) => string | Promise<string>

interface Target { id: string, name: string, tags: Record<string, string> }

export interface QueriesOptions {
  self: Target
  transport: { send: (to: string, msg: WireMessage) => void }
  ltime: () => number
  /** Alive members other than this one. */
  alive: () => Target[]
  /** The event-handler scripts' answer for `query:NAME` (undefined: none, or it failed). */
  scriptAnswer: (name: string, payload: string, ltime: number) => Promise<string | undefined>
}

const MAX_TIMEOUT_MS = 5 * 60_000

export class Queries {
  readonly #opts: QueriesOptions
  readonly #responders = new Map<string, QueryResponder>()
  readonly #pending = new Map<number, { targets: Map<string, string>, progress: (p: QueryProgress) => void }>()
  #qid = 0

  constructor (opts: QueriesOptions) {
    this.#opts = opts
  }

  /** Answers queries of `name` on this agent with `fn` (before any event-handler script). */
  handle (name: string, fn: QueryResponder): void {
    this.#responders.set(name, fn)
  }

  /** Runs a query across the cluster; `onProgress` sees every ack and answer as it arrives. Throws InvalidQueryError. */
  async run (req: QueryRequest, onProgress: (p: QueryProgress) => void = () => {}): Promise<QueryResult> {
    const match = matcher(req)
    const targets = [this.#opts.self, ...this.#opts.alive()].filter(match)
    const timeoutMs = req.timeoutMs ?? 3200 * Math.ceil(Math.log10(targets.length + 2))
    const result: QueryResult = { acks: [], responses: {}, missing: [] }
    const waiting = new Map(targets.map(t => [t.id, t.name]))
    const payload = req.payload ?? ''
    const qid = ++this.#qid
    await new Promise<void>(resolve => {
      const timer = setTimeout(finish, timeoutMs)
      function finish (): void {
        clearTimeout(timer)
        resolve()
      }
      this.#pending.set(qid, {
        targets: new Map(waiting),
        progress: (p) => {
          if (p.type === 'ack') result.acks.push(p.member)
          else {
            result.responses[p.member] = p.answer
            for (const [id, name] of waiting) if (name === p.member) waiting.delete(id)
          }
          onProgress(p)
          if (waiting.size === 0) finish()
        }
      })
      if (targets.length === 0) finish()
      for (const t of targets) {
        if (t.id === this.#opts.self.id) void this.#answerLocally(qid, req.name, payload)
        else this.#opts.transport.send(t.id, { type: 'query', qid, name: req.name, payload, ltime: this.#opts.ltime() })
      }
    })
    this.#pending.delete(qid)
    result.missing = [...waiting.values()].sort()
    return result
  }

  receive (from: string, msg: OperatorMessage): void {
    if (msg.type === 'query') {
      this.#opts.transport.send(from, { type: 'query-ack', qid: msg.qid })
      void this.#respond(msg.name, msg.payload, msg.ltime).then(answer => {
        if (answer != null) this.#opts.transport.send(from, { type: 'query-response', qid: msg.qid, answer })
      })
      return
    }
    if (msg.type !== 'query-ack' && msg.type !== 'query-response') return
    const pending = this.#pending.get(msg.qid)
    const member = pending?.targets.get(from)
    if (pending == null || member == null) return // not asked, or not of this member
    pending.progress(msg.type === 'query-ack' ? { type: 'ack', member } : { type: 'response', member, answer: msg.answer })
  }

  async #answerLocally (qid: number, name: string, payload: string): Promise<void> {
    const self = this.#opts.self
    this.#pending.get(qid)?.progress({ type: 'ack', member: self.name })
    const answer = await this.#respond(name, payload, this.#opts.ltime())
    if (answer != null) this.#pending.get(qid)?.progress({ type: 'response', member: self.name, answer })
  }

  async #respond (name: string, payload: string, ltime: number): Promise<string | undefined> {
    const responder = this.#responders.get(name)
    try {
      const answer = responder != null ? await responder(payload, { name, ltime }) : await this.#opts.scriptAnswer(name, payload, ltime)
      return answer == null ? undefined : String(answer).slice(0, OPERATOR_LIMITS.payloadChars)
    } catch {
      return undefined // a responder that throws does not answer
    }
  }
}

/** The members a query goes to; throws InvalidQueryError on a bad filter. */
function matcher (req: QueryRequest): (t: Target) => boolean {
  if (typeof req.name !== 'string' || req.name === '' || req.name.length > OPERATOR_LIMITS.nameChars) throw new InvalidQueryError(`the query name must be 1-${OPERATOR_LIMITS.nameChars} chars`)
  if (req.payload != null && (typeof req.payload !== 'string' || req.payload.length > OPERATOR_LIMITS.payloadChars)) throw new InvalidQueryError(`the payload must be a string of at most ${OPERATOR_LIMITS.payloadChars} chars`)
  if (req.timeoutMs != null && (!Number.isFinite(req.timeoutMs) || req.timeoutMs <= 0 || req.timeoutMs > MAX_TIMEOUT_MS)) throw new InvalidQueryError(`the timeout must be more than 0 and at most ${MAX_TIMEOUT_MS / 1000} s`)
  const tags = Object.entries(req.tags ?? {}).map(([key, pattern]) => {
    try {
      return [key, new RegExp(`^(?:${pattern})$`)] as const
    } catch (err) {
      throw new InvalidQueryError(`--tag ${key}: bad regular expression: ${(err as Error).message}`)
    }
  })
  const nodes = req.nodes != null && req.nodes.length > 0 ? new Set(req.nodes) : undefined
  return t => (nodes == null || nodes.has(t.name)) && tags.every(([key, re]) => t.tags[key] != null && re.test(t.tags[key]))
}
