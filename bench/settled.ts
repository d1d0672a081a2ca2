/**
 * When the benchmarks' idle windows may open: past the transport's idle close
 * (gossip/config.ts), the connections the joins opened and SWIM no longer
 * uses are closed, and nothing but the protocol runs.
 */
import { DEFAULT_TRANSPORT_CONFIG } from '../gossip/index.ts'

/** How long after a cluster converged its idle cost is measured from: the idle close and 5 s. */
export const SETTLED_AFTER_MS = DEFAULT_TRANSPORT_CONFIG.idleConnectionCloseMs + 5000
