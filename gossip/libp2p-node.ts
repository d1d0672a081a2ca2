/**
 * The libp2p node the agent runs: TCP and WebSocket transports, noise, yamux
 * and gossipsub, with connection limits sized for a cluster agent rather than
 * for a public DHT node, and no identify exchange per connection (see
 * peerProtocols).
 *
 * libp2p's defaults assume an open network of strangers: at most 5 inbound
 * connections per second from one IP, 10 connections mid-handshake, 300
 * connections in all. A cluster differs in two ways. Dozens of agents may run
 * on one host and all of them reach each other from 127.0.0.1 (one "IP"), and
 * SWIM probes every member in turn, so over time each agent holds a connection
 * to most members of a cluster of hundreds. The values below are chosen for
 * that; each says why.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { NOISE_CRYPTO } from './noise-crypto.ts'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { IDLE_HEARTBEAT_MS } from './heartbeat-pace.ts'
import { identify, type Identify } from '@libp2p/identify'
import { NotFoundError } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { guardedTcp, guardedWebSockets, newInboundStats, type InboundStats } from './inbound-guard.ts'
import type { ComponentLogger, Connection, ConnectionProtector, Libp2p, Libp2pEvents, Logger, PeerId, PeerInfo, PeerRouting, PrivateKey, Startable, TypedEventTarget } from '@libp2p/interface'

export interface NodeOptions {
  /** The node key; its peer id is the member id. */
  privateKey: PrivateKey
  /** Multiaddrs to listen on, e.g. `/ip4/0.0.0.0/tcp/7946` and `/ip4/0.0.0.0/tcp/7947/ws`. Port 0 picks a free port. */
  listen: string[]
  /** Multiaddrs to advertise instead of the listen addresses (NAT, containers). */
  announce?: string[]
  /**
   * Connections kept before libp2p starts pruning. Default 1024: a connection
   * to every member of a ~1,000-member cluster (a TCP socket and a yamux
   * session each, a few tens of KiB). Lower it on small hosts running many
   * agents; members beyond it are reconnected on demand.
   */
  maxConnections?: number
  /**
   * Budget of one address within a dial, TCP connect and handshake together
   * (libp2p tries a peer's addresses one after the other). Default 6000: a
   * LAN handshake takes tens of ms, but with many agents starting at once on
   * few cores it can take seconds, and a handshake aborted half-way is CPU
   * spent for nothing that the next dial spends again. A black-holed TCP
   * address still gives way to the next one after tcpConnectTimeoutMs.
   */
  addressDialTimeoutMs?: number
  /**
   * How long a TCP connect (the SYN answered) may take before the address is
   * given up. Default 1500: a member whose first network is cut is reached on
   * its second within the SWIM transport's 2 s send budget.
   */
  tcpConnectTimeoutMs?: number
  /**
   * Largest receive window of one yamux stream (bytes it may buffer unread).
   * Default: yamux's 16 MiB. The edge profile caps it at 256 KiB, yamux's
   * initial window, so a fast sender cannot make one stream hold more; SWIM
   * frames are small, so only a bulk sync is slowed by it, by extra round trips.
   */
  maxStreamWindowBytes?: number
  /**
   * Wraps every connection before noise (the cluster key, gossip/cluster-key.ts):
   * peers without the same key cannot connect. Default: none, an open cluster.
   */
  connectionProtector?: (components: any) => ConnectionProtector
  /**
   * Where the listeners count inbound connections that failed to upgrade and
   * WebSocket connections closed for a bad frame, for silence or for a full
   * HTTP phase (gossip/inbound-guard.ts). Default: counted nowhere.
   */
  inboundStats?: InboundStats
  /**
   * Where a dial by peer id alone finds the peer's addresses when libp2p has
   * none for it (the membership's record of that member; the agent passes
   * it). Identify no longer runs on every connection (see peerProtocols), so a
   * peer known only from its inbound connection has no listen address in the
   * peer store. Default: none, such a dial fails.
   */
  addressesOf?: (peerId: string) => string[] | undefined
}

/** Default for NodeOptions.maxConnections. */
export const DEFAULT_MAX_CONNECTIONS = 1024
/** Default for NodeOptions.addressDialTimeoutMs. */
export const DEFAULT_ADDRESS_DIAL_TIMEOUT_MS = 6000
/** Default for NodeOptions.tcpConnectTimeoutMs. */
export const DEFAULT_TCP_CONNECT_TIMEOUT_MS = 1500
/** Yamux keep-alive ping per connection: under the TCP and WebSocket listeners' 2-minute inactivity timeout. */
const KEEP_ALIVE_INTERVAL_MS = 90_000

/** The services every agent's node runs (a type alias: libp2p's ServiceMap needs an index signature). */
export type ClusterServices = {
  identify: Identify
  pubsub: GossipSub
}

export type ClusterNode = Libp2p<ClusterServices>

/** Creates and starts a libp2p node. Stop it with `node.stop()`. */
export async function createNode (opts: NodeOptions): Promise<ClusterNode> {
  const announce = opts.announce ?? []
  const inbound = opts.inboundStats ?? newInboundStats()
  return await createLibp2p({
    privateKey: opts.privateKey,
    addresses: {
      listen: opts.listen,
      ...(announce.length > 0 ? { announce } : {})
    },
    transports: [
      guardedTcp(inbound, opts.tcpConnectTimeoutMs ?? DEFAULT_TCP_CONNECT_TIMEOUT_MS),
      // Plain `ws` is served and dialled on any host. In Node the default
      // connection gater allows it; the explicit gater below keeps it so in
      // runtimes where libp2p picks its browser defaults (which deny plain ws
      // and private addresses). Guarded: see inbound-guard.ts for what the listener lacks.
      guardedWebSockets(inbound)
    ],
    ...(opts.connectionProtector != null ? { connectionProtector: opts.connectionProtector } : {}),
    connectionEncrypters: [noise({ crypto: NOISE_CRYPTO })],
    streamMuxers: [yamux({
      // A ping each way per connection keeps it from the transports' 2-minute
      // inactivity timeout (a member SWIM rarely probes, in a large cluster);
      // yamux's default, every 30 s, is 3 times what that needs. Liveness is
      // SWIM's job, not this ping's (yamux only logs a ping that fails).
      keepAliveInterval: KEEP_ALIVE_INTERVAL_MS,
      ...(opts.maxStreamWindowBytes != null ? { streamOptions: { maxStreamWindowSize: opts.maxStreamWindowBytes } } : {})
    })],
    // no debug loggers per connection and stream unless DEBUG is set (see quietLogger)
    logger: quietLogger(),
    ...(opts.addressesOf != null ? { peerRouters: [membershipRouting(opts.addressesOf)] } : {}),
    services: {
      // Answers peers that ask who this node is, but never asks: peerProtocols
      // tells gossipsub about a new peer instead, and addresses come from the
      // membership (addressesOf).
      identify: identify({ runOnConnectionOpen: false }),
      peerProtocols: peerProtocols(),
      // The work-claims topic (gossip/work-transport.ts). Every message is
      // signed by its origin, so a claim or result is attributed to the member
      // that made it, not to whoever relayed it.
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        // a lone agent still runs jobs: publishing with no subscribed peer is not an error
        allowPublishToZeroTopicPeers: true,
        // every agent hears the topic; flood our own messages to all of them at once
        floodPublish: true,
        fallbackToFloodsub: false,
        // a replication snapshot of a large job is the biggest message (see WorkTransportConfig)
        maxInboundDataLength: 4 * 1024 * 1024 + 64 * 1024,
        scoreParams: {
          // No penalty for many peers behind one IP address (gossipsub's
          // Sybil defence): members of one cluster share hosts, NATs and
          // loopback. With it, an agent that had seen more than 14 peers from
          // one address within the hour (scores are kept an hour) ignored
          // every one of them, so a job submitted in a cluster of 20 agents
          // on one host ran all its tasks on the agent it was submitted to
          // (docs/scale.md). Who may speak is the cluster key's and the
          // signatures' job (docs/security.md).
          IPColocationFactorWeight: 0,
          // Score upkeep every 10 s, not every second: the score is only
          // the penalty for IWANT promises broken, and an idle agent should
          // not wake for it (see gossip/heartbeat-pace.ts).
          decayInterval: IDLE_HEARTBEAT_MS
        }
      })
    },
    // SWIM probes every member each protocol period and is what decides liveness;
    // libp2p's monitor would add a ping stream per connection every 10 s (measured:
    // a visible share of an idle agent's CPU) and abort connections on its own verdict.
    connectionMonitor: { enabled: false },
    connectionGater: {
      // Cluster members live on loopback and private networks, and may speak
      // plain WebSocket: never filter an address out for being private or insecure.
      denyDialMultiaddr: () => false
    },
    connectionManager: {
      // See NodeOptions.maxConnections.
      maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      // Per-IP inbound connections per second before new ones are refused
      // (default 5). All agents on one host share 127.0.0.1, and a cluster
      // (re)start or a partition heal makes every member dial at once, so 5/s
      // would refuse legitimate peers and look like crashes. 500/s still bounds
      // a runaway dialler.
      inboundConnectionThreshold: 500,
      // Inbound connections allowed mid-upgrade (noise handshake, muxer
      // negotiation) at once (default 10). A join storm of a few hundred
      // members must not be refused; each pending upgrade costs one socket and
      // a handshake, and the upgrade timeout still bounds how long it is held.
      maxIncomingPendingConnections: 256,
      // Dials in flight across all peers (default 100). SWIM dials a handful of
      // members per probe interval; bursts come from joins and from gossip to
      // many fresh members after a heal. 128 absorbs those without letting a
      // partition (every dial hanging until its timeout) hold thousands of
      // sockets.
      maxParallelDials: 128,
      // Queued dials beyond maxParallelDials before dial() fails fast (default
      // 500); a failed dial is reported to the membership core like any other.
      maxDialQueueLength: 1024,
      // Per-address dial budget (default 6 s), applied to every dial on top
      // of the caller's signal. See NodeOptions.addressDialTimeoutMs.
      addressDialTimeout: opts.addressDialTimeoutMs ?? DEFAULT_ADDRESS_DIAL_TIMEOUT_MS
    }
  })
}

/**
 * Tells libp2p's registrar, as soon as a connection opens, that the peer
 * speaks the protocols this node speaks, instead of asking it with identify.
 *
 * The registrar tells a protocol's topology about a peer (gossipsub learns
 * its peers so) only from a `peer:identify` event, which identify dispatches
 * once the peer has answered: an extra stream per connection, a signed peer
 * record sealed on one side and verified on the other, and peer-store writes;
 * about a third of a connection's CPU (docs/scale.md). Every member runs this
 * agent, so the answer is known in advance. A peer that is not an agent
 * (it lacks gossipsub) only costs a refused stream. Gossipsub needs one side
 * to open its stream: the other side answers it with its own.
 *
 * Identify still answers peers that ask (other tools, older agents), but this
 * node never asks; a peer's listen addresses then come from the membership
 * (NodeOptions.addressesOf).
 */
function peerProtocols () {
  return (components: { events: TypedEventTarget<Libp2pEvents>, registrar: { getProtocols: () => string[] } }): Startable => {
    const onOpen = (evt: CustomEvent<Connection>): void => {
      const connection = evt.detail
      components.events.safeDispatchEvent('peer:identify', {
        detail: { peerId: connection.remotePeer, protocols: components.registrar.getProtocols(), listenAddrs: [], connection }
      })
    }
    return {
      start: () => { components.events.addEventListener('connection:open', onOpen) },
      stop: () => { components.events.removeEventListener('connection:open', onOpen) }
    }
  }
}

/** Peer routing by the membership: a member's addresses as the membership knows them (NodeOptions.addressesOf). */
function membershipRouting (addressesOf: (peerId: string) => string[] | undefined) {
  return (): PeerRouting => ({
    findPeer: async (peerId: PeerId): Promise<PeerInfo> => {
      const addrs = addressesOf(peerId.toString()) ?? []
      if (addrs.length === 0) throw new NotFoundError('not a known member')
      return { id: peerId, multiaddrs: addrs.map(a => multiaddr(a)) }
    },
    getClosestPeers: async function * () {}
  })
}

/**
 * libp2p's logger component, unless DEBUG is set: libp2p makes a `debug`
 * logger per component, per connection and per stream (each checks the
 * DEBUG patterns and picks a colour), a visible share of a connection's
 * CPU even when nothing is printed. This one does nothing. With DEBUG set,
 * libp2p's own logger is used as before.
 */
function quietLogger (): ComponentLogger | undefined {
  if ((globalThis as any).process?.env?.DEBUG != null) return undefined
  const log = Object.assign((): void => {}, {
    enabled: false,
    error: (): void => {},
    trace: (): void => {},
    newScope: (): Logger => log
  }) as Logger
  return { forComponent: () => log }
}
