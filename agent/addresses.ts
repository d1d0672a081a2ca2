/** Multiaddr helpers shared by the agent's join and announce logic. */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Destination } from '../membership/index.ts'

/** Splits `/ip4/…/tcp/…/p2p/<id>` into the transport address and the optional peer id. */
export function toDestination (address: string): Destination {
  const ma = multiaddr(address)
  const p2p = ma.getComponents().find(c => c.name === 'p2p')
  return p2p?.value == null
    ? { addrs: [ma.toString()] }
    : { id: p2p.value, addrs: [withoutPeerId(ma)] }
}

/** The address as announced in membership: no `/p2p/<id>` suffix (the id is the member's key). */
export function withoutPeerId (ma: Multiaddr): string {
  const components = ma.getComponents()
  const index = components.findIndex(c => c.name === 'p2p')
  return index === -1 ? ma.toString() : multiaddr(components.slice(0, index)).toString()
}

/**
 * Addresses worth announcing: unique, without the peer id. Wildcard listen
 * addresses are already expanded by libp2p into one address per interface.
 */
export function announceable (addrs: Multiaddr[]): string[] {
  return [...new Set(addrs.map(withoutPeerId))]
}
