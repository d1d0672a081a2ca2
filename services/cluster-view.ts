/**
 * The other members as this member's services core knows them: who is alive
 * (from membership), what each last reported (reports.ts), and from that who
 * may run a service, who runs one, and who votes on leases.
 */
import type { PlacementCandidate } from './placement.ts'
import { tagsMatch } from './placement.ts'
import { isActive, Reports } from './reports.ts'
import type { MemberId, MembershipHealth, MemberServiceState, ServiceDefinition, ServicePeer } from './types.ts'

/** What this member knows of itself, in the shape of a report. */
export interface SelfSnapshot {
  id: MemberId
  tags: Record<string, string>
  state: MemberServiceState
}

export class ClusterView {
  peers = new Map<MemberId, ServicePeer>()
  readonly reports = new Reports()
  health: MembershipHealth = { side: 'unknown', stableSize: 0 }
  /**
   * The lease voters' ids (this member's included): while membership shows
   * this member on a majority side, the members that have not left; otherwise
   * those plus the voters known before (persisted across restarts), less those
   * seen leaving. A member restarted alone, or cut off, so still needs a
   * majority of the membership it last knew, never of the few it sees now.
   */
  #voterIds: Set<MemberId>

  constructor (selfId: MemberId, persistedVoters: readonly MemberId[] = []) {
    this.#voterIds = new Set([selfId, ...persistedVoters])
  }
  /** Per service, the last other member seen running it (a start here is then a move). */
  readonly #lastHolder = new Map<string, MemberId>()

  /** A member's report: kept if it is a member and the report is newer than the one held. */
  take (from: MemberId, state: MemberServiceState): boolean {
    if (!this.peers.has(from) || !this.reports.take(from, state)) return false
    for (const i of state.instances) this.#lastHolder.set(i.service, from)
    return true
  }

  lastHolder (service: string): MemberId | undefined {
    return this.#lastHolder.get(service)
  }

  /** The members as membership sees them now (this member left out), and this member's side. */
  setMembers (selfId: MemberId, peers: readonly ServicePeer[], health: MembershipHealth): void {
    this.peers = new Map(peers.filter(p => p.id !== selfId).map(p => [p.id, p]))
    for (const id of this.reports.members()) if (!this.peers.has(id)) this.reports.forget(id)
    this.health = health
    const current = [selfId, ...[...this.peers.values()].filter(p => !p.left).map(p => p.id)]
    if (health.side === 'majority') this.#voterIds = new Set(current)
    else {
      for (const id of current) this.#voterIds.add(id)
      for (const p of this.peers.values()) if (p.left) this.#voterIds.delete(p.id)
    }
  }

  /** How many members a lease majority is counted over (see #voterIds). */
  voterCount (): number {
    return Math.max(this.health.stableSize, this.#voterIds.size)
  }

  /** The voters to persist. */
  voterIds (): MemberId[] {
    return [...this.#voterIds].sort()
  }

  /** Members that have not left: lease voters. */
  voters (): ServicePeer[] {
    return [...this.peers.values()].filter(p => !p.left)
  }

  /** Why `member` may not run `definition`, or undefined when it may. */
  ineligibility (definition: ServiceDefinition, member: MemberId, self: SelfSnapshot): string | undefined {
    const isSelf = member === self.id
    const peer = this.peers.get(member)
    if (!isSelf && peer?.alive !== true) return 'not alive'
    const state = isSelf ? self.state : this.reports.of(member)
    if (state == null) return 'no state heard yet'
    if (!tagsMatch(definition.tags, isSelf ? self.tags : peer?.tags ?? {})) return 'tags do not match'
    if (definition.command != null && !state.exec) return 'runs no commands (no --allow-exec)'
    if (definition.command == null && !state.handlers.includes(definition.name)) return 'has not registered this in-process service'
    if (state.blocked.includes(definition.name)) return 'gave the service up after repeated failures'
    return undefined
  }

  /** The members that may run `definition`, with their load and whether they run it now. */
  candidates (definition: ServiceDefinition, self: SelfSnapshot): PlacementCandidate[] {
    const out: PlacementCandidate[] = []
    for (const id of [self.id, ...this.peers.keys()]) {
      if (this.ineligibility(definition, id, self) != null) continue
      const state = id === self.id ? self.state : this.reports.of(id) as MemberServiceState
      out.push({ id, load: state.load, running: state.instances.some(i => i.service === definition.name && isActive(i)) })
    }
    return out
  }

  /** Other alive members that report an active instance of `service`. */
  holders (service: string): MemberId[] {
    return [...this.peers.values()].filter(p => {
      const instance = p.alive ? this.reports.instanceOf(p.id, service) : undefined
      return instance != null && isActive(instance)
    }).map(p => p.id)
  }
}
