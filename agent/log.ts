/**
 * The agent's log: one record per event worth keeping (agent/event-log.ts
 * turns membership, partition, path, job and service events into records with
 * stable field names) and per warning. Records go to one sink, chosen by the
 * CLI (`--log-format json|text`, `--log-level`; log-sinks.ts), and to any
 * number of listeners (`agent monitor` through GET /v1/monitor), each at its
 * own level. A record nobody wants is never built.
 */

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/** `time` is wall-clock ms since 1970; every other field is the record's own (`member`, `peerId`, `cause`, …). */
export interface LogRecord {
  level: LogLevel
  time: number
  msg: string
  [field: string]: unknown
}

export interface LogSink {
  /** The least severe level written. */
  level: LogLevel
  write: (record: LogRecord) => void
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

export function isLogLevel (value: unknown): value is LogLevel {
  return typeof value === 'string' && value in RANK
}

export class AgentLog {
  #sink: LogSink | undefined
  readonly #listeners = new Set<{ level: LogLevel, fn: (record: LogRecord) => void }>()
  /** The least severe level anyone wants (-1: nobody). */
  #wanted = -1

  constructor (sink?: LogSink) {
    this.setSink(sink)
  }

  setSink (sink: LogSink | undefined): void {
    this.#sink = sink
    this.#update()
  }

  /** True when a record at `level` would go somewhere: callers skip building costly fields otherwise. */
  wants (level: LogLevel): boolean {
    return RANK[level] <= this.#wanted
  }

  write (level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (!this.wants(level)) return
    const record: LogRecord = { level, time: Date.now(), msg, ...fields }
    if (this.#sink != null && RANK[level] <= RANK[this.#sink.level]) {
      try { this.#sink.write(record) } catch { /* a broken stdout must not stop the agent */ }
    }
    for (const l of this.#listeners) {
      if (RANK[level] <= RANK[l.level]) {
        try { l.fn(record) } catch { /* one listener's failure is its own */ }
      }
    }
  }

  error (msg: string, fields?: Record<string, unknown>): void { this.write('error', msg, fields) }
  warn (msg: string, fields?: Record<string, unknown>): void { this.write('warn', msg, fields) }
  info (msg: string, fields?: Record<string, unknown>): void { this.write('info', msg, fields) }
  debug (msg: string, fields?: Record<string, unknown>): void { this.write('debug', msg, fields) }

  /** Records at `level` and more severe, until the returned function is called. */
  subscribe (level: LogLevel, fn: (record: LogRecord) => void): () => void {
    const entry = { level, fn }
    this.#listeners.add(entry)
    this.#update()
    return () => { this.#listeners.delete(entry); this.#update() }
  }

  #update (): void {
    let wanted = this.#sink == null ? -1 : RANK[this.#sink.level]
    for (const l of this.#listeners) wanted = Math.max(wanted, RANK[l.level])
    this.#wanted = wanted
  }
}
