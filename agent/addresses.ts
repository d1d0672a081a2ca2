/** The agent's join and announce addresses (the multiaddr helpers themselves: gossip/multiaddrs.ts). */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { withoutPeerId } from '../gossip/index.ts'
import type { Destination } from '../membership/index.ts'

/** Splits `/ip4/…/tcp/…/p2p/<id>` into the transport address and the optional peer id. */
export function toDestination (address: string): Destination {
  const ma = multiaddr(address)
  const p2p = ma.getComponents().find(c => c.name === 'p2p')
  return p2p?.value == null
    ? { addrs: [ma.toString()] }
    : { id: p2p.value, addrs: [withoutPeerId(ma).toString()] }
}

/**
 * Addresses worth announcing: unique, without the peer id. Wildcard listen
 * addresses are already expanded by libp2p into one address per interface.
 */
export function announceable (addrs: Multiaddr[]): string[] {
  return [...new Set(addrs.map(a => withoutPeerId(a).toString()))]
}
