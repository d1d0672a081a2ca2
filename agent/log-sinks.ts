/**
 * Where the agent's log records go (log.ts): JSON lines through pino on
 * stdout (`--log-format json`, the default when stdout is not a terminal), or
 * readable lines (log-text.ts), warnings and errors on stderr.
 */
import type { LogLevel, LogSink } from './log.ts'
import { formatText } from './log-text.ts'

export const LOG_FORMATS = ['json', 'text'] as const
export type LogFormat = typeof LOG_FORMATS[number]

export function isLogFormat (value: unknown): value is LogFormat {
  return (LOG_FORMATS as readonly unknown[]).includes(value)
}

/** `text` on a terminal, `json` otherwise (a service manager, a pipe, a file). */
export function defaultLogFormat (): LogFormat {
  return process.stdout.isTTY === true ? 'text' : 'json'
}

export function textSink (level: LogLevel): LogSink {
  return {
    level,
    write: r => { (r.level === 'warn' || r.level === 'error' ? process.stderr : process.stdout).write(formatText(r) + '\n') }
  }
}

/**
 * One JSON object per line on stdout, written synchronously (a record is not
 * lost to a kill -9 right after it): `level` as its name, `time` in ms, `msg`,
 * then the record's fields. Loaded only in this format: text never pays for pino.
 */
export async function jsonSink (level: LogLevel): Promise<LogSink> {
  const { pino } = await import('pino')
  const logger = pino({
    level,
    base: null,
    timestamp: false,
    formatters: { level: label => ({ level: label }) }
  }, pino.destination({ dest: 1, sync: true }))
  return {
    level,
    write: ({ level, msg, ...fields }) => { logger[level](fields, msg) }
  }
}

export async function createSink (format: LogFormat, level: LogLevel): Promise<LogSink> {
  return format === 'json' ? await jsonSink(level) : textSink(level)
}
