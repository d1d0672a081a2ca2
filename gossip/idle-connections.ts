/**
 * Closes connections that SWIM has stopped using, so that the connections an
 * agent holds follow whom it talks to (its ring neighbourhood,
 * membership/neighbors.ts) instead of piling up from everyone it ever spoke to:
 * the seed of a start that N members joined through, a push-pull partner,
 * members that were neighbours before the ring moved, the target of an
 * indirect probe. Each idle connection still costs memory, yamux keep-alives
 * and gossipsub state on both sides (docs/scale.md).
 *
 * A connection is idle when no SWIM frame went either way with its peer for
 * `idleCloseMs` and no work stream (jobs, results) is open on it. Closing one
 * is harmless: the next send dials again. Neighbours are never idle: a member
 * probes its successors and is probed by its predecessors every few intervals.
 */
import type { Connection, Libp2p } from '@libp2p/interface'

export interface IdleConnectionsOptions {
  /** Close a connection after this long without a SWIM frame either way (ms). */
  idleCloseMs: number
  /** Protocols whose open streams keep a connection however idle SWIM is on it (the work protocol). */
  busyProtocols: readonly string[]
}

export class IdleConnections {
  readonly #libp2p: Libp2p
  readonly #options: IdleConnectionsOptions
  /** Per peer id: the last SWIM frame sent or received (performance.now()). */
  readonly #lastUse = new Map<string, number>()
  #timer?: ReturnType<typeof setInterval>
  #closed = 0

  constructor (libp2p: Libp2p, options: IdleConnectionsOptions) {
    this.#libp2p = libp2p
    this.#options = options
  }

  /** Connections closed for idleness so far. */
  get closed (): number {
    return this.#closed
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
  }

  /** Closes the connections idle at `now`. */
  sweep (now: number): void {
    for (const connection of this.#libp2p.getConnections()) {
      const peer = connection.remotePeer.toString()
      const last = this.#lastUse.get(peer)
      // A connection SWIM never used (opened for work, or by gossipsub's peer) is timed from now on.
      if (last == null) { this.#lastUse.set(peer, now); continue }
      if (now - last < this.#options.idleCloseMs || this.#busy(connection)) continue
      this.#lastUse.delete(peer)
      this.#closed++
      void connection.close().catch(err => { connection.abort(err as Error) })
    }
  }

  #busy (connection: Connection): boolean {
    return connection.streams.some(s => s.protocol != null && this.#options.busyProtocols.includes(s.protocol))
  }
}
