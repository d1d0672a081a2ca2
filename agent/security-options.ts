/**
 * Checks of the security options (cluster key, control API token, exec) made
 * when the options are resolved, so that a misconfigured agent refuses to
 * start with a clear error instead of running exposed; and the address rules
 * the control API applies to `Host` and `Origin`.
 */
import { BlockList, isIPv6 } from 'node:net'
import { InvalidAgentOptionError } from './rpc-address.ts'

export interface SecurityOptions {
  clusterKey?: string | Uint8Array
  rpcToken?: string | { token: string }
  /** Registers the `exec` workload; needs a cluster key unless `allowExecOpen`. */
  allowExec?: boolean
  /** Registers `exec` even without a cluster key: whoever reaches a gossip port can then run commands here. */
  allowExecOpen?: boolean
}

export interface CheckedSecurityOptions {
  clusterKey?: string | Uint8Array
  rpcToken?: string | { token: string }
  allowExec: boolean
}

/**
 * An IPv4 address in any form inet_aton(3) accepts, as getaddrinfo (which
 * `listen` uses for a host that is not a dotted quad) does: one to four parts,
 * each decimal, 0x hex or 0-prefixed octal, the last filling the remaining
 * bytes (`127.1`, `0x7f.1`, `2130706433`). Anything else: undefined.
 */
export function parseIpv4 (text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length > 4) return undefined
  const values: number[] = []
  for (const part of parts) {
    let value: number
    if (/^0x[0-9a-f]+$/i.test(part)) value = parseInt(part.slice(2), 16)
    else if (/^0[0-7]*$/.test(part)) value = part.length === 1 ? 0 : parseInt(part.slice(1), 8)
    else if (/^[1-9][0-9]*$/.test(part)) value = Number(part)
    else return undefined
    values.push(value)
  }
  const last = values.pop()!
  if (values.some(v => v > 255) || last >= 2 ** (8 * (4 - values.length))) return undefined
  return values.reduce((sum, v, i) => sum + v * 2 ** (8 * (3 - i)), 0) + last
}

/** A host written as an IP address, in the canonical form BlockList takes; undefined for a name. */
function ipOf (host: string): { address: string, family: 'ipv4' | 'ipv6' } | undefined {
  const v4 = parseIpv4(host)
  if (v4 !== undefined) return { address: [24, 16, 8, 0].map(shift => (v4 >>> shift) & 255).join('.'), family: 'ipv4' }
  // Zone ids (`fe80::1%eth0`) are left out: BlockList does not take them.
  if (isIPv6(host) && !host.includes('%')) return { address: host, family: 'ipv6' }
  return undefined
}

/** 127.0.0.0/8 and ::1; BlockList also matches IPv4-mapped IPv6 (`::ffff:127.0.0.1`, `::ffff:7f00:1`) against the IPv4 rule. */
const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/**
 * Loopback: the only place the control API may listen without a token.
 * `localhost`, any address of 127.0.0.0/8 in any form inet_aton accepts,
 * `::1` and IPv4-mapped loopback in dotted or hex form. A form not recognised
 * is taken as not loopback, which only ever asks for a token.
 */
export function isLoopback (host: string): boolean {
  const h = host.toLowerCase()
  if (h === 'localhost') return true
  const ip = ipOf(h)
  return ip != null && LOOPBACK.check(ip.address, ip.family)
}

function isWildcard (host: string): boolean {
  const ip = ipOf(host.toLowerCase())
  if (ip == null) return false
  const any = new BlockList()
  any.addAddress('0.0.0.0', 'ipv4')
  any.addAddress('::', 'ipv6')
  return any.check(ip.address, ip.family)
}

/**
 * Whether a request's `Host` name (without its port) may reach a control API
 * bound to `bound` (the host it was given and the address it listens on):
 * `localhost` and loopback addresses always; a bound name or address, the
 * latter in any spelling; any address when bound to all interfaces (0.0.0.0
 * or ::). Other names are refused: a page whose name was re-pointed at this
 * host (DNS rebinding) still sends its own name. The port is not compared:
 * an SSH tunnel or a proxy reaches the API from another port, and the name is
 * what tells a rebinding page apart.
 */
export function hostAllowed (name: string, bound: readonly string[]): boolean {
  const h = name.toLowerCase()
  if (isLoopback(h)) return true
  if (bound.some(b => b.toLowerCase() === h)) return true
  const ip = ipOf(h)
  if (ip == null) return false
  return bound.some(b => {
    if (isWildcard(b)) return true
    const boundIp = ipOf(b.toLowerCase())
    if (boundIp == null) return false
    const same = new BlockList()
    same.addAddress(boundIp.address, boundIp.family)
    return same.check(ip.address, ip.family)
  })
}

export function checkSecurityOptions (options: SecurityOptions, rpc: { host: string, port: number } | false): CheckedSecurityOptions {
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
  const allowExecOpen = options.allowExecOpen === true
  const allowExec = options.allowExec === true || allowExecOpen
  // In an open cluster anyone who reaches a gossip port joins and may submit
  // exec jobs through any member: running commands on this host must be asked for by name.
  if (allowExec && !allowExecOpen && clusterKey == null) {
    throw new InvalidAgentOptionError(
      '--allow-exec (allowExec) needs a cluster key (--cluster-key FILE): without one, anyone who reaches a gossip port can join and run shell commands here; ' +
      'to allow exec on an open cluster anyway, use --allow-exec-open (allowExecOpen)'
    )
  }
  const out: CheckedSecurityOptions = { allowExec }
  if (clusterKey != null) out.clusterKey = clusterKey
  if (rpcToken != null) out.rpcToken = rpcToken
  return out
}
