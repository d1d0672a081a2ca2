/**
 * What a view holds of a member, but for the time of its last status change
 * (the record's own `statusSince`): immutable, replaced whole on every change
 * (state.ts `changeMember`), so that the views of many cores can hold one
 * object (shared-views.ts).
 */
import type { Member } from './types.ts'

export type MemberState = Readonly<Omit<Member, 'statusSince'>> & {
  /**
   * The member's signed alive the view applied last, relayed with it
   * (signatures.ts): its incarnation and signature, the same in every view
   * that holds this state. None for this node's own record.
   */
  readonly aliveSignedIncarnation?: number
  readonly aliveSignature?: Uint8Array
}

/** A member state from its fields; no `cause` key while alive, as a copy of a member never had one. */
export function memberState (s: MemberState): MemberState {
  const out: { -readonly [K in keyof MemberState]: MemberState[K] } = {
    id: s.id,
    name: s.name,
    addrs: s.addrs,
    tags: s.tags,
    incarnation: s.incarnation,
    bootId: s.bootId,
    status: s.status,
    aliveSignedIncarnation: s.aliveSignedIncarnation,
    aliveSignature: s.aliveSignature
  }
  if (s.cause != null && s.status !== 'alive') out.cause = s.cause
  return out
}
