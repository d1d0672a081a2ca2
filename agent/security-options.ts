/**
 * Checks of the security options (cluster key, control API token) made when
 * the options are resolved, so that a misconfigured agent refuses to start
 * with a clear error instead of running exposed.
 */
import { InvalidAgentOptionError } from './rpc-address.ts'

export interface SecurityOptions {
  clusterKey?: string | Uint8Array
  rpcToken?: string | { token: string }
}

/** Loopback: the only place the control API may listen without a token. */
export function isLoopback (host: string): boolean {
  const h = host.toLowerCase()
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1'
}

export function checkSecurityOptions (options: SecurityOptions, rpc: { host: string, port: number } | false): SecurityOptions {
  const { clusterKey, rpcToken } = options
  if (clusterKey != null && typeof clusterKey !== 'string' && !(clusterKey instanceof Uint8Array)) {
    throw new InvalidAgentOptionError('clusterKey must be a key file path or the key file bytes')
  }
  if (typeof clusterKey === 'string' && clusterKey === '') throw new InvalidAgentOptionError('clusterKey: empty path')
  if (rpcToken != null && typeof rpcToken !== 'string' && typeof rpcToken?.token !== 'string') {
    throw new InvalidAgentOptionError('rpcToken must be a token file path or { token }')
  }
  if (rpc !== false && !isLoopback(rpc.host) && rpcToken == null) {
    throw new InvalidAgentOptionError(
      `the control API on ${rpc.host} would be reachable from other hosts: give it a token (--rpc-token FILE) or bind it to 127.0.0.1`
    )
  }
  const out: SecurityOptions = {}
  if (clusterKey != null) out.clusterKey = clusterKey
  if (rpcToken != null) out.rpcToken = rpcToken
  return out
}
