/**
 * Start-up failures a user can fix, said in the user's terms: which address,
 * why, and the flag to change. libp2p's own message names a libp2p option the
 * CLI cannot set and carries stack traces.
 */
import { formatHost } from './rpc-address.ts'

/** The agent could not start; `message` says what to change. */
export class AgentStartError extends Error {
  override name = 'AgentStartError'
}

const LISTEN_FAILURE = /(\/\S+): Error: listen (EADDRINUSE|EACCES|EADDRNOTAVAIL)/g

function portOf (address: string): string {
  return /\/(?:tcp|udp)\/(\d+)/.exec(address)?.[1] ?? '?'
}

/** Why each gossip listen address failed, or undefined when the error is not about listening. */
export function explainListenError (err: unknown): AgentStartError | undefined {
  const text = String((err as Error)?.message ?? err)
  const reasons = [...text.matchAll(LISTEN_FAILURE)].map(([, address, code]) => {
    switch (code) {
      case 'EADDRINUSE': return `port ${portOf(address)} is in use (${address}): another agent may run here; pass --listen with a free port, e.g. --listen ${address.replace(/\/(tcp)\/\d+/, '/$1/0')} (0 picks one)`
      case 'EACCES': return `port ${portOf(address)} needs privileges (${address}): pass --listen with a port above 1023`
      default: return `${address} is not an address of this host: pass --listen with one of its addresses, or /ip4/0.0.0.0/...`
    }
  })
  return reasons.length === 0 ? undefined : new AgentStartError(reasons.join('\n'), { cause: err })
}

/** The control API could not bind `host:port`. */
export function explainRpcError (err: NodeJS.ErrnoException, host: string, port: number): Error {
  const at = `${formatHost(host)}:${port}`
  switch (err.code) {
    case 'EADDRINUSE': return new AgentStartError(`control API port ${port} is in use (${at}): another agent may run here; pass --rpc ${formatHost(host)}:PORT with a free port, or --no-rpc`, { cause: err })
    case 'EACCES': return new AgentStartError(`control API port ${port} needs privileges (${at}): pass --rpc with a port above 1023`, { cause: err })
    case 'EADDRNOTAVAIL': return new AgentStartError(`control API address ${at} is not an address of this host: pass --rpc 127.0.0.1:PORT`, { cause: err })
    default: return err
  }
}
