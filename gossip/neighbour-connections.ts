/**
 * Keeps the connections an agent holds following its gossip neighbourhood
 * (membership/neighbors.ts), in both directions.
 *
 * Closing: a connection outside the neighbourhood that SWIM stopped using
 * (no frame either way for `idleCloseMs`, no work stream open on it) is
 * closed, so that connections do not pile up from everyone the agent ever
 * spoke to: the seed of a start that N members joined through, a push-pull
 * partner, members that were neighbours before the ring moved, the target of
 * an indirect probe. Each idle connection still costs memory, yamux
 * keep-alives and gossipsub state on both sides (docs/scale.md). Closing one
 * is harmless: the next send dials again. Not closed either: a peer that has
 * this node among its own neighbours. A long link is one-way, and closing
 * its far end made the member that holds it dial it again at its next sweep,
 * a handshake per long link every minute or so in an idle cluster.
 *
 * Opening: a neighbour without a connection, one in the neighbourhood for a
 * whole sweep already, is dialled in the background. Successors and
 * predecessors are probed every few intervals anyway, but the long links
 * carry nothing while nothing changes, and the first update after a quiet
 * spell (a failure's suspicion and verdict) dialled every one of them at the
 * moment the whole cluster did the same: 70 handshakes among 29 agents in the
 * 3 s after a kill -9, most of the CPU the failure cost them. Waiting a sweep
 * keeps a start, when the ring moves with every join, from dialling
 * neighbours it is about to lose; a few dials per sweep at most.
 */
import type { Connection, Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'

export interface NeighbourConnectionsOptions {
  /** Close a connection after this long without a SWIM frame either way (ms). */
  idleCloseMs: number
  /** Protocols whose open streams keep a connection however idle SWIM is on it (the work protocol). */
  busyProtocols: readonly string[]
  /** The membership's gossip neighbours: never closed for idleness, dialled when missing. */
  neighbours?: () => readonly string[]
  /**
   * Peers that have this node among their gossip neighbours (their long links
   * land here): not closed for idleness either, or they would dial them again
   * at their next sweep, a handshake every idleCloseMs or so for nothing.
   */
  neighbourOf?: (peer: string) => boolean
  /** Bound on one background dial (ms). */
  dialTimeoutMs: number
}

/** Background dials a sweep starts at most. */
const MAX_DIALS_PER_SWEEP = 4

export class NeighbourConnections {
  readonly #libp2p: Libp2p
  readonly #options: NeighbourConnectionsOptions
  /** Per peer id: the last SWIM frame sent or received (performance.now()). */
  readonly #lastUse = new Map<string, number>()
  /** The neighbours of the last sweep: a missing one is dialled only if it was one then too. */
  #previousNeighbours = new Set<string>()
  /** Neighbours dialled and not answered yet, or answered by a failure: not dialled again until they connect. */
  readonly #dialled = new Set<string>()
  #timer?: ReturnType<typeof setInterval>
  #closed = 0
  #opened = 0

  constructor (libp2p: Libp2p, options: NeighbourConnectionsOptions) {
    this.#libp2p = libp2p
    this.#options = options
  }

  /** Connections closed for idleness so far. */
  get closed (): number {
    return this.#closed
  }

  /** Background dials to neighbours that succeeded so far. */
  get opened (): number {
    return this.#opened
  }

  /**
   * True while `peer` is one of the membership's gossip neighbours. Everyone is
   * while the cluster is too small for the ring (the membership names none then).
   */
  isNeighbour (peer: string): boolean {
    const neighbours = this.#named()
    return neighbours.length === 0 || neighbours.includes(peer)
  }

  /** The membership's gossip neighbours; none while the cluster is too small for the ring. */
  #named (): readonly string[] {
    return this.#options.neighbours?.() ?? []
  }

  /** A SWIM frame went to or came from `peer`. */
  touch (peer: string): void {
    this.#lastUse.set(peer, performance.now())
  }

  /** The peer's last connection closed: nothing to time any more. */
  forget (peer: string): void {
    this.#lastUse.delete(peer)
  }

  start (): void {
    if (this.#timer != null) return
    // A sweep every quarter of the idle time: a connection lives at most 1.25 × idleCloseMs unused.
    this.#timer = setInterval(() => { this.sweep(performance.now()) }, Math.max(1000, this.#options.idleCloseMs / 4))
    this.#timer.unref?.()
  }

  stop (): void {
    if (this.#timer != null) clearInterval(this.#timer)
    this.#timer = undefined
    this.#lastUse.clear()
    this.#previousNeighbours.clear()
    this.#dialled.clear()
  }

  /** Closes the connections idle at `now` outside the neighbourhood, and dials missing neighbours. */
  sweep (now: number): void {
    const neighbours = new Set(this.#named())
    const connected = new Set<string>()
    for (const connection of this.#libp2p.getConnections()) {
      const peer = connection.remotePeer.toString()
      connected.add(peer)
      const last = this.#lastUse.get(peer)
      // A connection SWIM never used (opened for work, by gossipsub's peer, or by a dial below) is timed from now on.
      if (last == null) { this.#lastUse.set(peer, now); continue }
      if (now - last < this.#options.idleCloseMs || neighbours.has(peer) || this.#busy(connection) || this.#options.neighbourOf?.(peer) === true) continue
      this.#lastUse.delete(peer)
      this.#closed++
      void connection.close().catch(err => { connection.abort(err as Error) })
    }
    let dials = 0
    for (const peer of neighbours) {
      if (dials === MAX_DIALS_PER_SWEEP) break
      if (connected.has(peer) || !this.#previousNeighbours.has(peer) || this.#dialled.has(peer)) continue
      dials++
      this.#dial(peer)
    }
    for (const peer of this.#dialled) if (connected.has(peer) || !neighbours.has(peer)) this.#dialled.delete(peer)
    this.#previousNeighbours = neighbours
  }

  #dial (peer: string): void {
    this.#dialled.add(peer)
    let id
    try {
      id = peerIdFromString(peer)
    } catch {
      return
    }
    // A failure leaves the peer in #dialled: SWIM's own probes and sends will find out what is wrong with it.
    this.#libp2p.dial(id, { signal: AbortSignal.timeout(this.#options.dialTimeoutMs) }).then(() => { this.#opened++ }, () => {})
  }

  #busy (connection: Connection): boolean {
    return connection.streams.some(s => s.protocol != null && this.#options.busyProtocols.includes(s.protocol))
  }
}
