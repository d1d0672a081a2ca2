/**
 * The CLI's client of the control API: one JSON request, errors turned into
 * messages a user can act on.
 */
import { DEFAULT_RPC, parseHostPort } from './rpc-address.ts'

export function formatHost (host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/** Calls the control API at `rpc` (HOST:PORT, default 127.0.0.1:7373); returns the parsed JSON answer or throws. */
export async function callApi (rpc: string | undefined, method: string, path: string, body?: unknown): Promise<unknown> {
  const { host, port } = parseHostPort(rpc ?? DEFAULT_RPC)
  const url = `http://${formatHost(host)}:${port}${path}`
  let res: Response
  try {
    res = await fetch(url, {
      method,
      signal: AbortSignal.timeout(10_000),
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {})
    })
  } catch (err) {
    throw new Error(`cannot reach the control API at ${host}:${port} (is the agent running?): ${((err as Error).cause as Error)?.message ?? (err as Error).message}`)
  }
  const answer = await res.json().catch(() => undefined) as any
  if (!res.ok) throw new Error(`control API answered ${res.status}: ${answer?.error ?? res.statusText}`)
  return answer
}
