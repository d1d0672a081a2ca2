/**
 * Multiaddr and connection helpers of the SWIM transport: adding, removing
 * and reading a /p2p/ peer id, the host of an address, and the connection to
 * prefer among several.
 */
import { CODE_P2P } from '@multiformats/multiaddr'
import type { Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export function withPeerId (addr: Multiaddr, peerId: string): Multiaddr {
  const last = addr.getComponents().at(-1)
  return last?.name === 'p2p' ? addr : addr.encapsulate(`/p2p/${peerId}`)
}

/**
 * The most recently opened open connection: after a peer restarts, its new
 * connection is preferred over an old one that has not noticed yet.
 */
export function newestOpen (connections: Connection[]): Connection | undefined {
  let best: Connection | undefined
  for (const c of connections) {
    if (c.status === 'open' && (best == null || c.timeline.open > best.timeline.open)) best = c
  }
  return best
}

export function peerIdIn (addr: Multiaddr): string | undefined {
  const last = addr.getComponents().at(-1)
  return last?.name === 'p2p' ? last.value : undefined
}

export function withoutPeerId (addr: Multiaddr): Multiaddr {
  return addr.getComponents().at(-1)?.name === 'p2p' ? addr.decapsulateCode(CODE_P2P) : addr
}

/** The host part (IP address or DNS name) of a multiaddr, if it has one. */
export function hostOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().find(c => ['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(c.name))?.value
}
