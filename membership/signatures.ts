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
 * confirmations and shorten suspicion timeouts). A forced leave (an operator's
 * `force-leave` of a failed member) is signed by the member that forced it, and
 * a receiver applies it only to a member it holds failed: a member can retire
 * the dead, never the living (who would refute it anyway).
 *
 * The core stays pure: signing and checking are functions injected through
 * MembershipOptions.signer (ed25519 with the libp2p key in the agent, a fake
 * or nothing in the simulator). Without them nothing is signed or checked.
 * Only statements that would change state are checked, so stale and repeated
 * gossip costs no signature check.
 */
import type { MemberAnnouncement, MemberId, Update } from './types.ts'
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

/** Bytes of a forced leave of `id` by `from`. */
export function forcedLeavePayload (id: MemberId, incarnation: number, from: MemberId): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(['cluster-swim-force-leave/1', id, incarnation, from]))
}

/**
 * Bytes of an accusation (`suspect` or `dead`) by `from`. The cause of a
 * `dead` is left out: it is the reporter's opinion, relabelled by each node.
 */
export function accusationPayload (type: 'suspect' | 'dead', id: MemberId, incarnation: number, from: MemberId): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([`cluster-swim-${type}/1`, id, incarnation, from]))
}

type LeaveUpdate = Extract<Update, { type: 'leave' }>

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

/** This node's forced leave of `id` at `incarnation`, signed (when signing is on). */
export function signForcedLeave (state: State, id: MemberId, incarnation: number): LeaveUpdate {
  const l: LeaveUpdate = { type: 'leave', id, incarnation, from: state.self.id }
  if (state.signer != null) {
    l.signature = state.signer.sign(forcedLeavePayload(id, incarnation, state.self.id))
    signedHere.add(l)
  }
  return l
}

/** Checks an `alive` statement about `a.id`; counts a rejection. */
export function verifyAlive (state: State, a: MemberAnnouncement & { signature?: Uint8Array }): boolean {
  if (state.signer == null) return true
  const ok = a.signature != null && state.signer.verify(a.id, signedAlivePayload(a), a.signature)
  if (!ok) state.stats.signaturesRejected++
  return ok
}

/** Checks a `leave` statement (the member's own, or forced by `from`); counts a rejection. */
export function verifyLeave (state: State, l: { id: MemberId, incarnation: number, from?: MemberId, signature?: Uint8Array }): boolean {
  if (state.signer == null || (l.from === state.self.id && signedHere.has(l))) return true
  const [signer, payload] = l.from == null ? [l.id, signedLeavePayload(l.id, l.incarnation)] : [l.from, forcedLeavePayload(l.id, l.incarnation, l.from)]
  const ok = l.signature != null && state.signer.verify(signer, payload, l.signature)
  if (!ok) state.stats.signaturesRejected++
  return ok
}
