/**
 * Per-path reachability of members: bookkeeping only, no I/O, time passed in.
 *
 * A path is one transport to one remote host: `tcp 10.0.1.5`, `ws 10.0.2.5`.
 * Each address a member announces maps to one path; a connection the member
 * opened to us from an ephemeral port (`/ip4/10.0.1.5/tcp/53211`) maps to the
 * same path as its listen address on that host and transport, so inbound
 * traffic counts as evidence for the address it came over. Two addresses of
 * one member on the same host and transport (two TCP ports) share a path.
 *
 * Evidence, as the transport reports it (gossip/swim-paths-monitor.ts):
 * - up: a frame arrived over a connection on the path (the strongest: the
 *   agent itself answered over it), a dial over it succeeded, a SWIM ping's ack
 *   came back over it (with its round trip), or a TCP handshake to the
 *   address succeeded (weaker: the network and a listener, not the agent);
 * - down: a probe over the path went unanswered and the transport abandoned
 *   its connection (switchPath: `timeout`), a dial of the member's addresses
 *   failed (every address tried: the classified reason), or a TCP handshake
 *   to the address timed out, was refused or failed (EHOSTUNREACH: `error`).
 * A path with no evidence yet is `unknown`. The latest evidence wins.
 *
 * `lastError` is the last failure seen on the path and is kept after the path
 * comes back up: `up` with `lastError: 'timeout'` means it was down before.
 */
import { hostOf, tcpPortOf, transportOf } from './multiaddrs.ts'

/** See PathTable.due: how much less often a silent path known `up` is re-tested. */
export const UP_RECHECK_FACTOR = 3
export type PathState = 'up' | 'down' | 'unknown'
export type PathError = 'timeout' | 'refused' | 'error'

/** One path of a member as shown in `agent members --json` and `GET /v1/members`. */
export interface PathView {
  /** The member's announced address (multiaddr without /p2p/). */
  addr: string
  /** `tcp`, `ws`, `wss`, `quic`, `webrtc`, … or `other`. */
  transport: string
  state: PathState
  /** Last SWIM ping → ack round trip measured over this path, in ms (null: none yet). */
  rttMs: number | null
  lastError: PathError | null
}

interface PathRecord {
  /** `unknown` only while the first check of a path runs. */
  state: PathState
  rttMs: number | null
  lastError: PathError | null
  /** Time of the latest evidence (up or down), -Infinity if none yet. */
  seenAt: number
  /** Start of the latest TCP check, -Infinity if never checked. */
  checkedAt: number
}

/** Paths remembered per member; beyond this the oldest evidence is dropped (a member connecting from many hosts). */
export const MAX_PATHS_PER_MEMBER = 16

/** Transports a TCP handshake can test (WebSocket runs over TCP). */
const CHECKABLE = new Set(['tcp', 'ws', 'wss'])

/** The path an address (announced, dialled, or the remote end of a connection) belongs to. */
export function pathKey (addr: string): string | undefined {
  const host = hostOf(addr)
  return host == null ? undefined : `${transportOf(addr)} ${host}`
}

/** Alive with at least one path down while another is up: reachable, but not on every network. */
export function isDegraded (paths: PathView[]): boolean {
  return paths.some(p => p.state === 'down') && paths.some(p => p.state === 'up')
}

export class PathTable {
  readonly #members = new Map<string, Map<string, PathRecord>>()

  /** Evidence that the path of `addr` works. Returns true if its state changed. */
  up (id: string, addr: string, now: number, rttMs?: number): boolean {
    const rec = this.#record(id, addr)
    if (rec == null) return false
    const changed = rec.state !== 'up'
    rec.state = 'up'
    rec.seenAt = now
    if (rttMs != null && Number.isFinite(rttMs) && rttMs >= 0) rec.rttMs = Math.round(rttMs * 10) / 10
    return changed
  }

  /** Evidence that the path of `addr` does not work. Returns true if its state changed. */
  down (id: string, addr: string, reason: PathError, now: number): boolean {
    const rec = this.#record(id, addr)
    if (rec == null) return false
    const changed = rec.state !== 'down'
    rec.state = 'down'
    rec.lastError = reason
    rec.seenAt = now
    return changed
  }

  /** What is known of the path `addr` belongs to. */
  stateOf (id: string, addr: string): PathState {
    const key = pathKey(addr)
    return (key == null ? undefined : this.#members.get(id)?.get(key)?.state) ?? 'unknown'
  }

  /** The member's announced addresses with what is known of each one's path, in the order given. */
  view (id: string, addrs: readonly string[]): PathView[] {
    const paths = this.#members.get(id)
    return addrs.map(addr => {
      const key = pathKey(addr)
      const rec = key == null ? undefined : paths?.get(key)
      return {
        addr,
        transport: transportOf(addr),
        state: rec?.state ?? 'unknown',
        rttMs: rec?.rttMs ?? null,
        lastError: rec?.lastError ?? null
      }
    })
  }

  /**
   * Which addresses to test with a TCP handshake now: those of checkable
   * transports whose path has had no evidence and no check for `staleAfterMs`
   * (never-seen paths first, then the stalest), at most `budget`, one per
   * path. A path in use keeps itself fresh with its own traffic and is not
   * checked; a silent one (cut, or merely idle) is. A silent path known `up`
   * to a host that fresh traffic of the same member reaches over another
   * transport (TCP and WebSocket on one network, or every agent on loopback)
   * is re-tested UP_RECHECK_FACTOR times less often: it is not a separate
   * network, and each test costs the remote a handshake. Paths to other hosts
   * (other networks) are tested every `staleAfterMs`.
   */
  due (candidates: ReadonlyArray<{ id: string, addrs: readonly string[] }>, now: number, staleAfterMs: number, budget: number): Array<{ id: string, addr: string }> {
    const picks: Array<{ id: string, addr: string, last: number }> = []
    for (const { id, addrs } of candidates) {
      const paths = this.#members.get(id)
      const seen = new Set<string>()
      // hosts of this member reached by fresh traffic: another transport to the same host is no separate network
      const liveHosts = new Set<string>()
      for (const addr of addrs) {
        const rec = paths?.get(pathKey(addr) ?? '')
        const host = hostOf(addr)
        if (rec != null && host != null && now - rec.seenAt < staleAfterMs) liveHosts.add(host)
      }
      for (const addr of addrs) {
        const key = pathKey(addr)
        if (key == null || seen.has(key) || !CHECKABLE.has(transportOf(addr)) || tcpPortOf(addr) == null) continue
        seen.add(key)
        const rec = paths?.get(key)
        const last = rec == null ? -Infinity : Math.max(rec.seenAt, rec.checkedAt)
        const redundant = rec?.state === 'up' && liveHosts.has(hostOf(addr) ?? '')
        const after = redundant ? staleAfterMs * UP_RECHECK_FACTOR : staleAfterMs
        if (now - last >= after) picks.push({ id, addr, last })
      }
    }
    picks.sort((a, b) => a.last - b.last)
    return picks.slice(0, Math.max(0, budget)).map(({ id, addr }) => ({ id, addr }))
  }

  /** A TCP check of `addr` starts now: it is not picked again while it runs. */
  checking (id: string, addr: string, now: number): void {
    const rec = this.#record(id, addr)
    if (rec != null) rec.checkedAt = now
  }

  /**
   * The result of a TCP check started at `startedAt`. A failure does not
   * override traffic that arrived over the path while the check ran (the
   * frames prove more than a lost handshake). Returns true if the state changed.
   */
  checked (id: string, addr: string, startedAt: number, result: 'open' | PathError, now: number): boolean {
    if (result === 'open') return this.up(id, addr, now)
    const rec = this.#record(id, addr)
    if (rec != null && rec.state === 'up' && rec.seenAt > startedAt) return false
    return this.down(id, addr, result, now)
  }

  /** Forget a member's paths (it was reaped). */
  forget (id: string): void {
    this.#members.delete(id)
  }

  /** Members with at least one path record (for tests and bounds). */
  get size (): number {
    return this.#members.size
  }

  #record (id: string, addr: string): PathRecord | undefined {
    const key = pathKey(addr)
    if (key == null) return undefined
    let paths = this.#members.get(id)
    if (paths == null) {
      paths = new Map()
      this.#members.set(id, paths)
    }
    let rec = paths.get(key)
    if (rec == null) {
      if (paths.size >= MAX_PATHS_PER_MEMBER) {
        let oldest: string | undefined
        for (const [k, r] of paths) if (oldest == null || r.seenAt < paths.get(oldest)!.seenAt) oldest = k
        if (oldest != null) paths.delete(oldest)
      }
      rec = { state: 'unknown', rttMs: null, lastError: null, seenAt: -Infinity, checkedAt: -Infinity }
      paths.set(key, rec)
    }
    return rec
  }
}
