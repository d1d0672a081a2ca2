/**
 * The CLI's client of the control API: one JSON request, errors turned into
 * messages a user can act on.
 */
import { DEFAULT_RPC, parseHostPort } from './rpc-address.ts'
import { loadRpcToken } from './rpc-token.ts'

export function formatHost (host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/** Which agent to call: `rpc` HOST:PORT (default 127.0.0.1:7373), and the token file when the agent has one. */
export interface ApiTarget {
  rpc?: string
  tokenFile?: string
}

/** Calls the control API; returns the parsed JSON answer or throws with a message for the user. */
export async function callApi (target: ApiTarget, method: string, path: string, body?: unknown): Promise<unknown> {
  const { host, port } = parseHostPort(target.rpc ?? DEFAULT_RPC)
  const url = `http://${formatHost(host)}:${port}${path}`
  const headers: Record<string, string> = target.tokenFile != null ? { authorization: `Bearer ${await loadRpcToken(target.tokenFile)}` } : {}
  // The API refuses a POST or DELETE without it (415), body or not: a
  // browser cannot send it cross-site without a CORS preflight, which the API never grants.
  if (body !== undefined || (method !== 'GET' && method !== 'HEAD')) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(url, {
      method,
      headers,
      signal: AbortSignal.timeout(10_000),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
  } catch (err) {
    throw new Error(`cannot reach the control API at ${host}:${port} (is the agent running?): ${((err as Error).cause as Error)?.message ?? (err as Error).message}`)
  }
  const answer = await res.json().catch(() => undefined) as any
  if (!res.ok) throw new Error(`control API answered ${res.status}: ${answer?.error ?? res.statusText}`)
  return answer
}
