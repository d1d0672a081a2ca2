/**
 * Per-peer token buckets on inbound SWIM frames: a member (or any peer that
 * got through the cluster key) that floods us is cut down to a steady rate
 * and its excess frames are dropped before they are decoded or reach the
 * core. Each bucket holds `burst` tokens and refills at `perSecond`; a frame
 * costs one frame token and its size in byte tokens.
 *
 * Time is injected (milliseconds, monotonic) so the limiter is testable
 * without sleeping.
 */

export interface RateLimit {
  /** Sustained frames per second per peer. */
  framesPerSecond: number
  /** Frames a peer may send at once after being quiet. */
  frameBurst: number
  /** Sustained bytes per second per peer. */
  bytesPerSecond: number
  /** Bytes a peer may send at once after being quiet; at least one largest frame. */
  byteBurst: number
}

interface Bucket {
  frames: number
  bytes: number
  at: number
}

/** Peers tracked at once; the least recently seen is forgotten first (it starts again with a full bucket). */
export const MAX_TRACKED_PEERS = 4096

export class PeerRateLimiter {
  readonly #limit: RateLimit
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()

  constructor (limit: RateLimit, now: () => number = () => performance.now()) {
    this.#limit = limit
    this.#now = now
  }

  /** True, and the tokens are taken, when `peer` may send a frame of `bytes` now. */
  allow (peer: string, bytes: number): boolean {
    const now = this.#now()
    const limit = this.#limit
    let bucket = this.#buckets.get(peer)
    if (bucket == null) {
      bucket = { frames: limit.frameBurst, bytes: limit.byteBurst, at: now }
    } else {
      this.#buckets.delete(peer)
      const elapsedS = Math.max(0, now - bucket.at) / 1000
      bucket.frames = Math.min(limit.frameBurst, bucket.frames + elapsedS * limit.framesPerSecond)
      bucket.bytes = Math.min(limit.byteBurst, bucket.bytes + elapsedS * limit.bytesPerSecond)
      bucket.at = now
    }
    // Re-inserted: the Map's order is least recently seen first.
    this.#buckets.set(peer, bucket)
    if (this.#buckets.size > MAX_TRACKED_PEERS) this.#buckets.delete(this.#buckets.keys().next().value as string)
    if (bucket.frames < 1 || bucket.bytes < bytes) return false
    bucket.frames -= 1
    bucket.bytes -= bytes
    return true
  }

  get trackedPeers (): number {
    return this.#buckets.size
  }
}
