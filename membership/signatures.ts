/**
 * Signed membership statements: what only a member may say about itself.
 *
 * A member's `alive` (its incarnation, boot id, name, addresses and tags) and
 * its `leave` are signed by the member; every receiver checks the signature
 * against the member id before applying them, and relays carry the signature
 * along (in gossip and in push-pull entries). So no member can refute,
 * revive, rename or retire another: it would need the other's key.
 * Accusations (`suspect`, `dead`) are signed by their reporter (`from`): anyone
 * may accuse, and the accused refutes with a signed `alive`, but nobody can
 * accuse in another's name (which would fake Lifeguard's independent
 * confirmations and shorten suspicion timeouts).
 *
 * The core stays pure: signing and checking are functions injected through
 * MembershipOptions.signer (ed25519 with the libp2p key in the agent, a fake
 * or nothing in the simulator). Without them nothing is signed or checked.
 * Only statements that would change state are checked, so stale and repeated
 * gossip costs no signature check.
 */
import type { MemberAnnouncement, MemberId } from './types.ts'
import type { State } from './state.ts'

export interface Signer {
  /** Signs a payload with this node's key. Deterministic and synchronous. */
  sign: (payload: Uint8Array) => Uint8Array
  /** True when `signature` is `id`'s signature of `payload`. Never throws (false instead). */
  verify: (id: MemberId, payload: Uint8Array, signature: Uint8Array) => boolean
}

/** Domain-separated, canonical (tags sorted) bytes of an `alive` statement. */
export function signedAlivePayload (a: MemberAnnouncement): Uint8Array {
  const tags = Object.keys(a.tags).sort().map(k => [k, a.tags[k]])
  return new TextEncoder().encode(JSON.stringify(['cluster-swim-alive/1', a.id, a.incarnation, a.bootId, a.name, a.addrs, tags]))
}

/** Bytes of a `leave` statement. */
export function signedLeavePayload (id: MemberId, incarnation: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(['cluster-swim-leave/1', id, incarnation]))
}

/**
 * Bytes of an accusation (`suspect` or `dead`) by `from`. The cause of a
 * `dead` is left out: it is the reporter's opinion, relabelled by each node.
 */
export function accusationPayload (type: 'suspect' | 'dead', id: MemberId, incarnation: number, from: MemberId): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([`cluster-swim-${type}/1`, id, incarnation, from]))
}

type Accusation = { type: 'suspect' | 'dead', id: MemberId, incarnation: number, from: MemberId, signature?: Uint8Array }

/**
 * Accusations this process signed itself: applied locally right after signing,
 * they need no check. Decoded messages are always new objects, so a forgery
 * in our name from the network is still checked.
 */
const signedHere = new WeakSet<object>()

/** This node's accusation, signed (when signing is on). `a.from` must be this node. */
export function signAccusation<T extends Accusation> (state: State, a: T): T {
  if (state.signer != null) {
    a.signature = state.signer.sign(accusationPayload(a.type, a.id, a.incarnation, a.from))
    signedHere.add(a)
  }
  return a
}

/** Checks that `a.from` made this accusation; counts a rejection. */
export function verifyAccusation (state: State, a: Accusation): boolean {
  if (state.signer == null || signedHere.has(a)) return true
  const ok = a.signature != null && state.signer.verify(a.from, accusationPayload(a.type, a.id, a.incarnation, a.from), a.signature)
  if (!ok) state.stats.signaturesRejected++
  return ok
}

/** This node's signature of its current announcement; memoised, as it is sent often and changes rarely. */
export function selfAliveSignature (state: State): Uint8Array | undefined {
  if (state.signer == null) return undefined
  const payload = signedAlivePayload(state.self)
  const key = new TextDecoder().decode(payload)
  if (state.selfSigned?.key !== key) state.selfSigned = { key, signature: state.signer.sign(payload) }
  return state.selfSigned.signature
}

export function signLeave (state: State, id: MemberId, incarnation: number): Uint8Array | undefined {
  return state.signer?.sign(signedLeavePayload(id, incarnation))
}

/** Checks an `alive` statement about `a.id`; counts a rejection. */
export function verifyAlive (state: State, a: MemberAnnouncement & { signature?: Uint8Array }): boolean {
  if (state.signer == null) return true
  const ok = a.signature != null && state.signer.verify(a.id, signedAlivePayload(a), a.signature)
  if (!ok) state.stats.signaturesRejected++
  return ok
}

/** Checks a `leave` statement; counts a rejection. */
export function verifyLeave (state: State, l: { id: MemberId, incarnation: number, signature?: Uint8Array }): boolean {
  if (state.signer == null) return true
  const ok = l.signature != null && state.signer.verify(l.id, signedLeavePayload(l.id, l.incarnation), l.signature)
  if (!ok) state.stats.signaturesRejected++
  return ok
}
