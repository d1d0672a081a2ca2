/**
 * The SWIM codec's wire tables, shared by the encoder, the validator and the
 * decoder: wire types, field numbers and enum values (see swim.proto).
 * Never renumber.
 */
import type {
  DeliveryFailure, FailureCause, MemberAnnouncement, MemberStatus
} from '../membership/types.ts'

export const WT_VARINT = 0
export const WT_LEN = 2

export const ENVELOPE = { ping: 1, 'ping-req': 2, ack: 3, nack: 4, sync: 5, gossip: 6, digest: 7 } as const
export const UPDATE = { alive: 1, suspect: 2, dead: 3, leave: 4 } as const

export const MEMBER_STATUS: readonly MemberStatus[] = ['alive', 'suspect', 'failed', 'left']
export const FAILURE_CAUSE: readonly FailureCause[] = ['crash', 'unreachable', 'partition', 'left']
export const DELIVERY_FAILURE: readonly DeliveryFailure[] = ['refused', 'timeout', 'error']

/** The `Member` message: an announcement, plus the status, signature and signed incarnation a sync entry or a signed announcement adds. */
export interface DecodedMember extends MemberAnnouncement {
  status?: MemberStatus
  signature?: Uint8Array
  signedIncarnation?: number
}
