/**
 * The control API address and the option error type. Kept apart from config.ts
 * so that the CLI's client subcommands load no more than they need.
 */

export const DEFAULT_RPC = '127.0.0.1:7373'

export class InvalidAgentOptionError extends Error {
  override name = 'InvalidAgentOptionError'
}

/** A host as it stands before `:port`: an IPv6 address in brackets. */
export function formatHost (host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/** Parses `host:port` (IPv6 as `[::1]:7373`). */
export function parseHostPort (value: string): { host: string, port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim())
  const port = match == null ? NaN : Number(match[3])
  if (match == null || port > 65535) {
    throw new InvalidAgentOptionError(`expected HOST:PORT, got "${value}"`)
  }
  return { host: match[1] ?? match[2], port }
}
