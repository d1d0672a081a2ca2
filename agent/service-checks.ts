/**
 * One health check of a running service instance: an HTTP GET, a TCP
 * connect, or a command. Each is bounded by `timeoutMs` (and by the caller's
 * signal, when the instance stops), never throws, and answers with one line
 * saying why it failed, which ends up in the service's events and status.
 */
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { parseHostPort } from './rpc-address.ts'

export interface CheckSpec {
  http?: string
  /** `HOST:PORT` (IPv6 as `[::1]:80`). */
  tcp?: string
  /** argv, no shell; exit 0 is healthy. */
  command?: string[]
  timeoutMs: number
}

export interface CheckResult { ok: boolean, detail: string }

/** Stderr kept from a check command, for the last line in `detail`. */
const MAX_STDERR_CHARS = 4096

/** One line, short enough for a status table. */
function oneLine (text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 200)
}

/** Why `signal` ended the check: its own timeout or the caller. */
function abortReason (signal: AbortSignal, timeoutMs: number): string {
  return (signal.reason as Error | undefined)?.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : 'aborted'
}

/** An error in one line: the system code where there is one (fetch hides it in `cause`). */
function describe (err: unknown): string {
  const e = err as { message?: string, code?: string, cause?: { code?: string, message?: string } }
  const code = e.cause?.code ?? e.code
  const message = e.cause?.message ?? e.message ?? String(err)
  return oneLine(code !== undefined && !message.includes(code) ? `${code}: ${message}` : message)
}

async function httpCheck (url: string, signal: AbortSignal, timeoutMs: number): Promise<CheckResult> {
  try {
    // a redirect is an answer of the instance's own: following it would check another server
    const res = await fetch(url, { signal, redirect: 'manual' })
    await res.body?.cancel().catch(() => {})
    const detail = `HTTP ${res.status}`
    return { ok: res.status >= 200 && res.status <= 399, detail }
  } catch (err) {
    return { ok: false, detail: signal.aborted ? abortReason(signal, timeoutMs) : describe(err) }
  }
}

async function tcpCheck (address: string, signal: AbortSignal, timeoutMs: number): Promise<CheckResult> {
  let target: { host: string, port: number }
  try {
    target = parseHostPort(address)
  } catch (err) {
    return { ok: false, detail: describe(err) }
  }
  return await new Promise<CheckResult>((resolve) => {
    const socket = connect(target)
    const done = (result: CheckResult): void => {
      signal.removeEventListener('abort', onAbort)
      socket.destroy()
      resolve(result)
    }
    const onAbort = (): void => { done({ ok: false, detail: abortReason(signal, timeoutMs) }) }
    socket.once('connect', () => { done({ ok: true, detail: `connected to ${address}` }) })
    socket.once('error', (err) => { done({ ok: false, detail: describe(err) }) })
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
}

async function commandCheck (argv: string[], signal: AbortSignal, timeoutMs: number): Promise<CheckResult> {
  if (argv.length === 0) return { ok: false, detail: 'empty command' }
  if (signal.aborted) return { ok: false, detail: abortReason(signal, timeoutMs) }
  return await new Promise<CheckResult>((resolve) => {
    // a group of its own, so that a timeout also ends what the command forked (a shell's children)
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
    let stderr = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (text: string) => { stderr = (stderr + text).slice(-MAX_STDERR_CHARS) })
    let result: CheckResult | undefined
    const done = (r: CheckResult): void => {
      signal.removeEventListener('abort', onAbort)
      resolve(r)
    }
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // the group is gone
      }
    }
    // after the exit, the answer waits only for the last of stderr (a process that escaped the group and holds it: until the timeout)
    const onAbort = (): void => { killGroup(); done(result ?? { ok: false, detail: abortReason(signal, timeoutMs) }) }
    child.once('error', (err) => { done({ ok: false, detail: describe(err) }) })
    child.once('exit', (code, sig) => {
      killGroup() // a check leaves nothing running
      const end = sig != null ? `killed by ${sig}` : `exit ${String(code)}`
      result = { ok: code === 0, detail: end }
    })
    child.once('close', () => {
      if (result === undefined) return
      const last = stderr.trim().split('\n').pop() ?? ''
      done({ ok: result.ok, detail: oneLine(last === '' ? result.detail : `${result.detail}: ${last}`) })
    })
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Runs `check` once; `signal` ends it early (the instance is stopping). */
export async function runCheck (check: CheckSpec, signal?: AbortSignal): Promise<CheckResult> {
  try {
    const timeout = AbortSignal.timeout(check.timeoutMs)
    const bounded = signal === undefined ? timeout : AbortSignal.any([timeout, signal])
    if (check.http !== undefined) return await httpCheck(check.http, bounded, check.timeoutMs)
    if (check.tcp !== undefined) return await tcpCheck(check.tcp, bounded, check.timeoutMs)
    if (check.command !== undefined) return await commandCheck(check.command, bounded, check.timeoutMs)
    return { ok: false, detail: 'no check given (http, tcp or command)' }
  } catch (err) {
    // a bad timeoutMs, an invalid URL: a failed check, not an exception in the agent
    return { ok: false, detail: describe(err) }
  }
}
