/**
 * What the agent sets up for issue 6 at start: the cluster key guard (or the
 * open-cluster warning), the control API token and the statement signer. Kept
 * out of agent.ts so that the agent only wires the results in.
 */
import { ed25519Signer, clusterKeyGuard, loadClusterKey, parseClusterKey, type ClusterKeyGuard } from '../gossip/index.ts'
import type { Signer } from '../membership/index.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { ResolvedAgentOptions } from './config.ts'
import { resolveRpcToken } from './rpc-token.ts'

export interface SecurityStats {
  /** Connections refused by the cluster key (another key, no key, garbage). */
  handshakeFailures: number
}

export interface AgentSecurity {
  /** The libp2p connection protector, when there is a cluster key. */
  guard?: ClusterKeyGuard
  /** The control API token, when one is configured. */
  rpcToken?: string
  signer: Signer
  stats: () => SecurityStats
}

/** At most one log line per this many ms about refused connections; the rest are counted. */
const REFUSAL_LOG_INTERVAL_MS = 10_000

export async function setUpSecurity (options: ResolvedAgentOptions, privateKey: PrivateKey, warn: (message: string) => void = message => { console.warn(`agent: ${message}`) }): Promise<AgentSecurity> {
  let guard: ClusterKeyGuard | undefined
  if (options.clusterKey != null) {
    const key = typeof options.clusterKey === 'string' ? await loadClusterKey(options.clusterKey) : parseClusterKey(options.clusterKey)
    let lastLogAt = -Infinity
    let unlogged = 0
    guard = await clusterKeyGuard(key, (addr, why) => {
      const now = performance.now()
      if (now - lastLogAt < REFUSAL_LOG_INTERVAL_MS) { unlogged++; return }
      lastLogAt = now
      const more = unlogged > 0 ? ` (and ${unlogged} more since the last report)` : ''
      unlogged = 0
      warn(`refused a connection with ${addr}: ${why}${more}`)
    })
  } else {
    warn('warning: no cluster key (--cluster-key FILE): any host that reaches this agent can join the cluster')
  }
  const rpcToken = await resolveRpcToken(options.rpcToken)
  return {
    guard,
    rpcToken,
    signer: ed25519Signer(privateKey),
    stats: () => ({ handshakeFailures: guard?.stats().handshakeFailures ?? 0 })
  }
}
