/**
 * `agent service logs NAME` on any member: this agent's own lines of the
 * service, and those of every member that runs an instance of it, asked over
 * the work transport (`service-logs-query` → `service-logs`, direct). A member
 * that does not answer within LOGS_TIMEOUT_MS is left out (its lines are
 * missing, the others are shown).
 */
import { LOG_ANSWER_LINES, LOG_LINE_CHARS, type ServiceLogsMessage, type WireLogLine, type WireMessage } from '../gossip/index.ts'
import type { LogLine } from './service-logs.ts'

export const LOGS_TIMEOUT_MS = 3000

/** A line with the member it came from. */
export interface MemberLogLine extends LogLine {
  member: string
}

export class LogsLookup {
  readonly #send: (to: string, msg: WireMessage) => void
  readonly #local: (service: string) => LogLine[]
  readonly #pending = new Map<number, { from: string, resolve: (lines: WireLogLine[]) => void }>()
  #qid = 0

  constructor (send: (to: string, msg: WireMessage) => void, local: (service: string) => LogLine[]) {
    this.#send = send
    this.#local = local
  }

  receive (from: string, msg: ServiceLogsMessage): void {
    if (msg.type === 'service-logs-query') {
      const lines = this.#local(msg.service).slice(-LOG_ANSWER_LINES).map(l => ({ ...l, line: l.line.slice(0, LOG_LINE_CHARS) }))
      this.#send(from, { type: 'service-logs', qid: msg.qid, lines })
      return
    }
    const pending = this.#pending.get(msg.qid)
    if (pending?.from !== from) return // not asked, or not of this member
    this.#pending.delete(msg.qid)
    pending.resolve(msg.lines)
  }

  /** This member's lines of `service` and those of `others` (id → name), oldest first. */
  async gather (service: string, selfName: string, others: Map<string, string>): Promise<MemberLogLine[]> {
    const own = this.#local(service).map(l => ({ member: selfName, ...l }))
    const remote = await Promise.all([...others].map(async ([id, name]) => (await this.#ask(id, service)).map(l => ({ member: name, ...l }))))
    return [...own, ...remote.flat()].sort((a, b) => a.at < b.at ? -1 : a.at > b.at ? 1 : 0)
  }

  async #ask (to: string, service: string): Promise<WireLogLine[]> {
    const qid = ++this.#qid
    return await new Promise(resolve => {
      const timer = setTimeout(() => { this.#pending.delete(qid); resolve([]) }, LOGS_TIMEOUT_MS)
      this.#pending.set(qid, { from: to, resolve: lines => { clearTimeout(timer); resolve(lines) } })
      this.#send(to, { type: 'service-logs-query', qid, service })
    })
  }
}
