/**
 * Every multiaddr helper of the agent, on @multiformats/multiaddr rather than
 * string splitting: the /p2p/ peer id added, removed and read, and the host,
 * TCP port and transport of an address. Addresses come as strings from
 * membership (what members announce) and as Multiaddr from libp2p; both are
 * taken. A string that does not parse has no host and no port, and its
 * transport is `other`.
 */
import { CODE_P2P, multiaddr, type Component, type Multiaddr } from '@multiformats/multiaddr'

/** Parsed strings kept: path checks read the same few addresses of every member each round. */
const PARSED_MEMORY = 4096
const parsed = new Map<string, Component[]>()

function componentsOf (addr: string | Multiaddr): Component[] {
  if (typeof addr !== 'string') return addr.getComponents()
  let components = parsed.get(addr)
  if (components == null) {
    try {
      components = multiaddr(addr).getComponents()
    } catch {
      components = []
    }
    if (parsed.size >= PARSED_MEMORY) parsed.clear()
    parsed.set(addr, components)
  }
  return components
}

export function withPeerId (addr: Multiaddr, peerId: string): Multiaddr {
  return addr.getComponents().at(-1)?.name === 'p2p' ? addr : addr.encapsulate(`/p2p/${peerId}`)
}

export function peerIdIn (addr: Multiaddr): string | undefined {
  const last = addr.getComponents().at(-1)
  return last?.name === 'p2p' ? last.value : undefined
}

/** The address without its trailing /p2p/<id>: as members announce it (the id is the member's key). */
export function withoutPeerId (addr: Multiaddr): Multiaddr {
  return addr.getComponents().at(-1)?.name === 'p2p' ? addr.decapsulateCode(CODE_P2P) : addr
}

const HOSTS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6'])

/** The host part (IP address or DNS name), if the address has one. */
export function hostOf (addr: string | Multiaddr): string | undefined {
  return componentsOf(addr).find(c => HOSTS.has(c.name))?.value
}

/** The TCP port, if the address has one. */
export function tcpPortOf (addr: string | Multiaddr): number | undefined {
  const port = componentsOf(addr).find(c => c.name === 'tcp')?.value
  return port == null ? undefined : Number(port)
}

/** The transport: `tcp`, `ws`, `wss`, `quic`, `webtransport`, `webrtc` or `other`. */
export function transportOf (addr: string | Multiaddr): string {
  const names = new Set(componentsOf(addr).map(c => c.name))
  if (names.has('webrtc') || names.has('webrtc-direct')) return 'webrtc'
  if (names.has('webtransport')) return 'webtransport'
  if (names.has('quic-v1') || names.has('quic')) return 'quic'
  if (names.has('wss') || (names.has('tls') && names.has('ws'))) return 'wss'
  if (names.has('ws')) return 'ws'
  if (names.has('tcp')) return 'tcp'
  return 'other'
}
