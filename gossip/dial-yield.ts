/**
 * When a send of gossip alone dials, and who dials when two members start
 * gossiping to each other at once.
 *
 * Members next to each other on the ring gossip to each other, so when they
 * meet (a join, a start of many) both dial at about the same moment; while a
 * start keeps the CPU busy a handshake takes seconds, both complete, and each
 * side paid for two noise handshakes. In a 50-agent start 28 % of the
 * connections opened were such second connections between a pair, most of
 * them two gossip sends crossing (docs/scale.md).
 *
 * So a send that carries only gossip (or a push-pull digest) to a member we
 * have no connection to leaves the dial to the member with the smaller id:
 * the larger one waits up to `gossipDialYieldMs` for a connection from it,
 * then dials after all. The smaller one waits too, `gossipDialSettleMs`
 * (shorter): while members join together every member's ring fills in under
 * it, and a quarter of a 50-agent start's gossip dials went to members that
 * were neighbours for a moment only; and a probe between the two (probes
 * never wait) often opens the connection meanwhile. That pays without a ring
 * as well (up to 12 members, all neighbours for good): a 10-agent start
 * spent a third less CPU with the wait and was full as soon (docs/scale.md,
 * "Gossip that waits for the ring"). After either wait, gossip for a member
 * that is no longer a neighbour is dropped undialled (its current neighbours
 * carry it).
 * Probes, acks, indirect probes and syncs never wait, and one queued behind
 * the gossip ends the wait: failure detection does not depend on who dials.
 */
import type { Connection, Libp2p } from '@libp2p/interface'
import type { Message } from '../membership/index.ts'
import type { TransportConfig } from './config.ts'

/**
 * Messages whose delivery may wait for the peer's own dial: dissemination.
 * What a node says of itself waits too: its alive is in the first gossip to
 * every new neighbour (exempting it undid the gain, measured), a refutation
 * goes at once to every neighbour already connected, and a leave is sent
 * at once when the transport stops (SwimChannels.endWaits).
 */
export function mayWaitForPeersDial (msg: Message): boolean {
  return msg.type === 'gossip' || msg.type === 'digest'
}

/** True when everything queued may wait for the peer's dial (and, after the wait, be dropped). */
export function allMayWait (queued: ReadonlyArray<{ msg: Message }>): boolean {
  return queued.every(q => mayWaitForPeersDial(q.msg))
}

/** A send's wait before its dial: how long, and why (the names of TransportCounters.gossipDialWaits). */
export interface GossipDialWait { ms: number, why: 'yielded' | 'settled' }

/**
 * The wait before dialling `peerId` for what is queued: none unless all of
 * it may wait and there is no connection yet; then gossipDialYieldMs when
 * this node has the larger id (the peer dials), gossipDialSettleMs when the
 * smaller.
 */
export function gossipDialWait (selfId: string, peerId: string, libp2p: Libp2p, queued: ReadonlyArray<{ msg: Message }>,
  config: Pick<TransportConfig, 'gossipDialYieldMs' | 'gossipDialSettleMs'>): GossipDialWait | undefined {
  const wait: GossipDialWait = selfId > peerId ? { ms: config.gossipDialYieldMs, why: 'yielded' } : { ms: config.gossipDialSettleMs, why: 'settled' }
  if (wait.ms <= 0 || queued.length === 0 || !allMayWait(queued)) return undefined
  return libp2p.getConnections().some(c => c.status === 'open' && c.remotePeer.toString() === peerId) ? undefined : wait
}

/** Resolves when a connection with `peerId` opens, after `ms`, or when `signal` aborts, whichever comes first. Never rejects. */
export async function connectionFrom (libp2p: Libp2p, peerId: string, ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false
  return await new Promise<boolean>(resolve => {
    const done = (opened: boolean): void => {
      clearTimeout(timer)
      libp2p.removeEventListener('connection:open', onOpen)
      signal.removeEventListener('abort', onAbort)
      resolve(opened)
    }
    const onOpen = (evt: CustomEvent<Connection>): void => { if (evt.detail.remotePeer.toString() === peerId) done(true) }
    const onAbort = (): void => { done(false) }
    const timer = setTimeout(() => { done(false) }, ms)
    libp2p.addEventListener('connection:open', onOpen)
    signal.addEventListener('abort', onAbort)
  })
}
