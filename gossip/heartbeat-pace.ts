/**
 * Gossipsub's heartbeat (mesh upkeep, IHAVE gossip, message-cache shifts) at
 * its usual second while work messages flow, and every IDLE_HEARTBEAT_MS once
 * the work topic has been quiet for QUIET_AFTER_MS: an idle agent sends no
 * topic message at all, and waking every second for a heartbeat with nothing
 * to do cost it 7 % of its idle CPU (measured, docs/scale.md).
 *
 * A message published or received sets the pace back to a second at once;
 * the heartbeat already scheduled still runs at the idle pace, so mesh
 * repair may lag by up to IDLE_HEARTBEAT_MS when work starts. Messages do
 * not wait for it: this agent floods its own messages to every subscribed
 * peer (floodPublish), and relays over the mesh kept while idle.
 *
 * Gossipsub reads `opts.heartbeatInterval` each time it schedules the next
 * heartbeat, and tells each one that ran with a `gossipsub:heartbeat` event.
 * `opts` is its implementation's, not in its public interface: a version
 * without it keeps gossipsub's own pace (test/unit/heartbeat-pace.test.ts
 * checks the version installed has it).
 */
import type { GossipSub } from '@libp2p/gossipsub'

/** The part of gossipsub's implementation the pace sets. */
interface HeartbeatOptions { heartbeatInterval: number }

export const BUSY_HEARTBEAT_MS = 1000
export const IDLE_HEARTBEAT_MS = 10_000
export const QUIET_AFTER_MS = 30_000

export class HeartbeatPace {
  readonly #pubsub: GossipSub
  readonly #options: HeartbeatOptions
  readonly #now: () => number
  #lastTrafficAt: number

  /** Starts busy: a new agent is joining, and jobs may come at once. */
  constructor (pubsub: GossipSub, now: () => number = () => performance.now()) {
    this.#pubsub = pubsub
    this.#now = now
    this.#lastTrafficAt = now()
    const options = (pubsub as unknown as { opts?: Partial<HeartbeatOptions> }).opts
    this.#options = typeof options?.heartbeatInterval === 'number' ? options as HeartbeatOptions : { heartbeatInterval: BUSY_HEARTBEAT_MS }
    this.#options.heartbeatInterval = BUSY_HEARTBEAT_MS
  }

  start (): void {
    this.#pubsub.addEventListener('gossipsub:heartbeat', this.#onHeartbeat)
  }

  stop (): void {
    this.#pubsub.removeEventListener('gossipsub:heartbeat', this.#onHeartbeat)
  }

  /** A work-topic message went out or came in. */
  traffic (): void {
    this.#lastTrafficAt = this.#now()
    this.#options.heartbeatInterval = BUSY_HEARTBEAT_MS
  }

  readonly #onHeartbeat = (): void => {
    if (this.#now() - this.#lastTrafficAt >= QUIET_AFTER_MS) this.#options.heartbeatInterval = IDLE_HEARTBEAT_MS
  }
}
