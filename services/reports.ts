/**
 * What every other member last said about itself (its `service-state`):
 * whether it runs commands, its in-process services, what it gave up, its
 * load and its instances. Placement and the services view read it; a report
 * older than the one held (lower seq) is ignored.
 */
import type { InstanceReport, MemberId, MemberServiceState } from './types.ts'

/**
 * Every reported instance holds its place, `failed` included: a member
 * reports a failed instance only while it waits to restart it (one it gave
 * up is no longer reported), so nobody else takes the service meanwhile.
 */
export function isActive (report: InstanceReport): boolean {
  return report.state !== undefined
}

export class Reports {
  readonly #byMember = new Map<MemberId, MemberServiceState>()

  /** Keeps `state` if newer than the one held; true when it was. */
  take (from: MemberId, state: MemberServiceState): boolean {
    const held = this.#byMember.get(from)
    if (held != null && held.seq >= state.seq) return false
    this.#byMember.set(from, state)
    return true
  }

  of (member: MemberId): MemberServiceState | undefined {
    return this.#byMember.get(member)
  }

  forget (member: MemberId): void {
    this.#byMember.delete(member)
  }

  members (): MemberId[] {
    return [...this.#byMember.keys()]
  }

  /** The instance of `service` that `member` reported, if any. */
  instanceOf (member: MemberId, service: string): InstanceReport | undefined {
    return this.#byMember.get(member)?.instances.find(i => i.service === service)
  }

  /** The highest epoch any member reported for `service`. */
  maxEpoch (service: string): number {
    let max = 0
    for (const state of this.#byMember.values()) {
      for (const i of state.instances) if (i.service === service) max = Math.max(max, i.epoch)
    }
    return max
  }
}
