/**
 * What the SWIM transport knows of its peers' paths and what it does about
 * them: it records path evidence (frames in, dials, ping round trips, TCP
 * checks; paths.ts keeps the table), leaves a stream whose path went down,
 * checks silent paths with a bare TCP handshake, and switches a peer's
 * connections away from a path whose probes went unanswered.
 */
import { observeRtt } from './rtt-histogram.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { probeTcp } from './swim-dial.ts'
import { hostOf, withoutPeerId } from './multiaddrs.ts'
import { PathTable, pathKey, type PathError, type PathView } from './paths.ts'
import type { Channel } from './swim-channels.ts'
import type { SwimPartOptions, SwimTransportHandlers } from './swim-types.ts'
import type { Message } from '../membership/types.ts'
import type { Connection } from '@libp2p/interface'

/** Pings remembered for timing their acks; a few probe periods' worth in any cluster. */
const MAX_PINGS_IN_FLIGHT = 1024

export interface PathsMonitorOptions extends SwimPartOptions {
  selfId: string
  handlers: Pick<SwimTransportHandlers, 'onPathChange'>
  /** The outbound channel of peer `id`, if there is one (swim-channels.ts). */
  channelOf: (id: string) => Channel | undefined
}

export class SwimPathsMonitor {
  /** Per-peer path reachability (paths.ts). */
  readonly table = new PathTable()
  /**
   * SWIM pings written to a stream and not yet acked, by sequence number: the
   * ack's arrival gives the round trip of the path it came back over. Bounded
   * (MAX_PINGS_IN_FLIGHT, oldest dropped); the core's sequence numbers are unique.
   */
  private readonly pingsInFlight = new Map<number, { peer: string, sentAt: number }>()

  /** Per peer: hosts (IP or DNS name) of connections abandoned by switchPath, dialled last. */
  private readonly avoidHosts = new Map<string, Set<string>>()
  private readonly lastPathSwitch = new Map<string, number>()
  private readonly options: PathsMonitorOptions

  constructor (options: PathsMonitorOptions) {
    this.options = options
  }

  /** See SwimTransport.paths. */
  view (id: string, addrs: readonly string[]): PathView[] {
    return this.table.view(id, addrs)
  }

  /** See SwimTransport.forgetPaths. */
  forget (id: string): void {
    this.table.forget(id)
  }

  /** Hosts of peer `id` that the last path switch left: its addresses there are dialled last. */
  avoidedHosts (id: string): ReadonlySet<string> | undefined {
    return this.avoidHosts.get(id)
  }

  /** See SwimTransport.checkPaths. */
  checkPaths (members: ReadonlyArray<{ id: string, addrs: readonly string[] }>, staleAfterMs: number, timeoutMs: number): void {
    const { libp2p, config, counters, selfId, state } = this.options
    // Nothing to check (single-network members): skip getMultiaddrs(), which is not cheap.
    if (state() !== 'started' || members.length === 0) return
    const own = new Set(libp2p.getMultiaddrs().map(a => withoutPeerId(a).toString()))
    const candidates = members
      .filter(m => m.id !== selfId)
      .map(m => ({ id: m.id, addrs: m.addrs.filter(a => !own.has(a)) }))
    const startedAt = performance.now()
    for (const { id, addr } of this.table.due(candidates, startedAt, staleAfterMs, config.maxPathChecksPerRound)) {
      this.table.checking(id, addr, startedAt)
      counters.pathChecks++
      void probeTcp(addr, timeoutMs).then((result: 'open' | PathError) => {
        if (state() !== 'started') return
        if (result !== 'open') counters.pathCheckFailures++
        this.evidence(id, addr, now => this.table.checked(id, addr, startedAt, result, now), () => `${addr} checked: ${result}`)
      })
    }
  }

  /** Applies one piece of path evidence and tells the handler when a path changed state. */
  evidence (id: string, addr: string, apply: (now: number) => boolean, what: () => string): void {
    const { log, state, handlers } = this.options
    if (!apply(performance.now()) || state() !== 'started') return
    log('path to %s changed: %s', id, what())
    // Our stream to the peer runs over a path now known down: leave it. The next
    // send opens a stream on a connection whose path is not down (connect()),
    // e.g. the one the peer dialled us over on its other network. Without this,
    // our messages (acks included) would go into the dead connection until a
    // probe of our own over it fails.
    const channel = this.options.channelOf(id)
    if (channel?.stream != null && channel.via != null && pathKey(channel.via) === pathKey(addr) &&
        this.table.stateOf(id, addr) === 'down') {
      log('leaving the stream to %s over %s: its path is down', id, channel.via)
      channel.stream.abort(new Error('path down'))
      channel.stream = undefined
      channel.via = undefined
    }
    try {
      handlers.onPathChange?.(id)
    } catch (err) {
      log.error('onPathChange threw - %e', err)
    }
  }

  /** A frame from `from` arrived over `via`. */
  heard (from: string, via: string, msg: Message): void {
    // A frame from the peer proves the path it came over; an ack of our ping also times it.
    const ping = msg.type === 'ack' ? this.pingsInFlight.get(msg.seq) : undefined
    const timed = ping != null && ping.peer === from
    if (timed && msg.type === 'ack') {
      this.pingsInFlight.delete(msg.seq)
      observeRtt(this.options.counters.pingRtt, performance.now() - ping.sentAt)
    }
    this.evidence(from, via, now => this.table.up(from, via, now, timed ? now - ping.sentAt : undefined), () => `${via} up (inbound)`)
  }

  /** A ping to `peer` was handed to its stream now. */
  notePing (seq: number, peer: string): void {
    if (this.pingsInFlight.size >= MAX_PINGS_IN_FLIGHT) {
      const oldest = this.pingsInFlight.keys().next().value
      if (oldest != null) this.pingsInFlight.delete(oldest)
    }
    this.pingsInFlight.set(seq, { peer, sentAt: performance.now() })
  }

  /** See SwimTransport.switchPath. */
  switchPath (id: string): void {
    const { libp2p, config, counters, log, selfId, state } = this.options
    if (state() !== 'started' || id === selfId) return
    const now = performance.now()
    if (now - (this.lastPathSwitch.get(id) ?? -Infinity) < config.pathSwitchMinIntervalMs) return
    let connections: Connection[]
    try {
      connections = libp2p.getConnections(peerIdFromString(id))
    } catch {
      return // not a peer id
    }
    if (connections.length === 0) return
    // The unanswered probe went out over our stream's connection: that path is
    // down until traffic or a check says otherwise (all of them if unknown).
    const channel = this.options.channelOf(id)
    const silent = channel?.via != null ? [channel.via] : connections.map(c => c.remoteAddr.toString())
    for (const addr of silent) this.evidence(id, addr, now => this.table.down(id, addr, 'timeout', now), () => `${addr} down (switchPath)`)
    // When every address we know of the member is on the silent hosts (a
    // single-network member, or every agent on loopback), there is no other
    // path: aborting the connections would only cut what they carry besides
    // probes (work streams, gossipsub) and redial the same network.
    // With no address known here (a channel made for a reply to a sender id),
    // switch as before: the redial finds out.
    const silentHosts = new Set(connections.map(c => hostOf(c.remoteAddr)).filter(h => h != null))
    const known = (channel?.addrs ?? []).map(a => hostOf(a)).filter(h => h != null)
    if (known.length > 0 && known.every(host => silentHosts.has(host))) return
    this.lastPathSwitch.set(id, now)
    this.avoidHosts.set(id, silentHosts)
    counters.pathSwitches++
    log('switching path to %s away from %s', id, connections.map(c => c.remoteAddr.toString()).join(', '))
    if (channel?.stream != null) {
      channel.stream.abort(new Error('path switched'))
      channel.stream = undefined
    }
    for (const connection of connections) connection.abort(new Error('path switched: probes over it went unanswered'))
  }
}
