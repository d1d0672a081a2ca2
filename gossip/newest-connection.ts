/**
 * Which of a peer's connections to open a stream on. After a peer restarts,
 * or a partition heals, libp2p can still list an old connection as open that
 * has not noticed it is dead (its TCP retransmissions backed off to minutes);
 * the one opened most recently is the one that works.
 */
import type { Connection } from '@libp2p/interface'

/** The most recently opened of the open connections, if any. */
export function newestOpen (connections: readonly Connection[]): Connection | undefined {
  let best: Connection | undefined
  for (const c of connections) {
    if (c.status === 'open' && (best == null || c.timeline.open > best.timeline.open)) best = c
  }
  return best
}
