/**
 * `agent monitor [--json] [--log-level L]`: the agent's log records as they
 * are written (GET /v1/monitor, server-sent events), like `serf monitor`,
 * until Ctrl-C. When the agent goes away (a restart) it says so on stderr
 * and connects again every second.
 */
import { request } from 'node:http'
import { parse, UsageError } from './cli-args.ts'
import { DEFAULT_RPC, formatHost, parseHostPort } from './rpc-address.ts'
import { loadRpcToken } from './rpc-token.ts'
import { ApiError, UnreachableAgentError } from './api-client.ts'
import { isLogLevel, LOG_LEVELS, type LogRecord } from './log.ts'
import { formatText } from './log-text.ts'

const RECONNECT_MS = 1000
/** The agent sends a keepalive every 15 s: silence this long means it is gone. */
const SILENCE_MS = 45_000

export async function monitor (args: string[]): Promise<number> {
  const flags = parse(args, { rpc: { type: 'string' }, 'rpc-token': { type: 'string' }, json: { type: 'boolean' }, 'log-level': { type: 'string' } })
  const level = flags['log-level'] ?? 'info'
  if (!isLogLevel(level)) throw new UsageError(`--log-level expects one of ${LOG_LEVELS.join(', ')}, got "${String(level)}"`)
  const { host, port } = parseHostPort(flags.rpc ?? DEFAULT_RPC)
  const headers: Record<string, string> = flags['rpc-token'] != null ? { authorization: `Bearer ${await loadRpcToken(flags['rpc-token'])}` } : {}
  const print = (r: LogRecord): void => { console.log(flags.json === true ? JSON.stringify(r) : formatText(r)) }
  const where = `${formatHost(host)}:${port}`
  process.once('SIGINT', () => { process.exit(0) })
  let lost = false
  let connected = false
  for (;;) {
    const outcome = await follow({ host, port, path: `/v1/monitor?level=${level}`, headers }, print, () => {
      if (lost) console.error(`monitor: connected to ${where} again`)
      lost = false
      connected = true
    })
    // An answer, not an outage (a wrong token), will not fix itself; 503 is an agent stopping.
    if (outcome.status != null && outcome.status !== 503) throw new ApiError(outcome.status, `control API answered ${outcome.status}: ${outcome.error}`)
    if (!connected) throw new UnreachableAgentError(`cannot reach the control API at ${where} (is the agent running?): ${outcome.error}`)
    if (!lost) console.error(`monitor: lost ${where} (${outcome.error}); reconnecting every ${RECONNECT_MS / 1000} s`)
    lost = true
    await new Promise(resolve => setTimeout(resolve, RECONNECT_MS))
  }
}

/** One connection: resolves when it ends, with the error status if the agent refused it. */
function follow (req: { host: string, port: number, path: string, headers: Record<string, string> }, onRecord: (r: LogRecord) => void, onConnected: () => void): Promise<{ status?: number, error: string }> {
  return new Promise(resolve => {
    const call = request({ ...req, method: 'GET', timeout: SILENCE_MS }, res => {
      if (res.statusCode !== 200) {
        let body = ''
        res.on('data', (c: Buffer) => { body += c.toString() })
        res.on('end', () => {
          let error = body.slice(0, 200)
          try { error = (JSON.parse(body) as { error: string }).error } catch {}
          resolve({ status: res.statusCode, error })
        })
        return
      }
      onConnected()
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (data != null) onRecord(JSON.parse(data) as LogRecord)
        }
      })
      res.on('end', () => { resolve({ error: 'the agent closed the stream' }) })
      res.on('error', err => { resolve({ error: err.message }) })
    })
    call.on('timeout', () => { call.destroy(new Error(`silent for ${SILENCE_MS / 1000} s`)) })
    call.on('error', err => { resolve({ error: err.message }) })
    call.end()
  })
}
