/**
 * This member's side of the singleton leases (lease.ts): its claims (rounds
 * of requests to every voter, answers counted), its granter (answers to the
 * others' requests), and the back-off after giving way to another claimant.
 * The core decides when to claim or drop and what a grant starts; this holds
 * the protocol.
 */
import type { ServicesConfig } from './config.ts'
import { LeaseClaim, LeaseGranter } from './lease.ts'
import type { MemberId, ServiceMessage, ServicePeer, ServicesStats } from './types.ts'

export interface LeaseHost {
  readonly self: MemberId
  /** Members that have not left: lease voters (the alive ones are asked). */
  voters: () => ServicePeer[]
  /** How many members a majority is counted over, this member included (ClusterView.voterCount). */
  voterCount: () => number
  send: (to: MemberId, msg: ServiceMessage) => void
  /** A majority granted a round of `claim`. */
  granted: (now: number, claim: LeaseClaim) => void
  /** An instance of `service` runs here (a refused claim then keeps its epoch). */
  runsHere: (service: string) => boolean
}

export type LeaseStats = Pick<ServicesStats, 'leaseRounds' | 'leasesGranted' | 'leasesRefused'>

type Request = Extract<ServiceMessage, { type: 'service-lease' }>
type Reply = Extract<ServiceMessage, { type: 'service-lease-reply' }>

export class SingletonLeases {
  readonly granter: LeaseGranter
  readonly stats: LeaseStats = { leaseRounds: 0, leasesGranted: 0, leasesRefused: 0 }
  readonly #config: ServicesConfig
  readonly #host: LeaseHost
  readonly #claims = new Map<string, LeaseClaim>()
  /** Per singleton, when this member may ask again after giving way. */
  readonly #retryAt = new Map<string, number>()
  /** Per singleton, the last round asked: a new claim goes on from it, so a late grant to an old claim never counts for a new one at the same epoch. */
  readonly #rounds = new Map<string, number>()

  constructor (now: number, config: ServicesConfig, epochs: Record<string, number> | undefined, host: LeaseHost) {
    this.#config = config
    this.#host = host
    this.granter = new LeaseGranter(now, config.leaseMs, epochs)
  }

  claim (service: string): LeaseClaim | undefined {
    return this.#claims.get(service)
  }

  /** Whether this member may start asking for `service`'s lease (it is not backing off). */
  mayAsk (now: number, service: string): boolean {
    return now >= (this.#retryAt.get(service) ?? -Infinity)
  }

  /** Starts asking for `service`'s lease at `epoch`. */
  open (now: number, service: string, epoch: number): void {
    const claim = new LeaseClaim(service, epoch, this.#config.leaseMs, this.#rounds.get(service) ?? 0)
    this.#claims.set(service, claim)
    this.round(now, claim)
  }

  /** Asks every voter for the lease at the claim's epoch (a refusal last round raises it first if nothing runs yet). */
  round (now: number, claim: LeaseClaim): void {
    if (!this.#host.runsHere(claim.service) && claim.refusedAt >= claim.epoch) claim.bump(claim.refusedAt + 1)
    const voters = this.#host.voters()
    const size = Math.max(this.#host.voterCount(), voters.length + 1)
    const asked = voters.filter(p => p.alive)
    const round = claim.newRound(now, Math.floor(size / 2) + 1, asked.length + 1)
    this.#rounds.set(claim.service, round)
    this.stats.leaseRounds++
    for (const p of asked) this.#host.send(p.id, { type: 'service-lease', service: claim.service, epoch: claim.epoch, round })
    const self = this.#host.self
    if (claim.answer(self, round, this.granter.request(now, self, claim.service, claim.epoch))) this.#host.granted(now, claim)
  }

  /** Gives up a claim: the voters may forget their promise. */
  drop (claim: LeaseClaim): void {
    this.#claims.delete(claim.service)
    for (const p of this.#host.voters()) {
      if (p.alive) this.#host.send(p.id, { type: 'service-release', service: claim.service, epoch: claim.epoch })
    }
    this.granter.release(this.#host.self, claim.service, claim.epoch)
  }

  /**
   * Gives way to another claimant, and asks again a renewal period from now,
   * or as soon as the promises that refused it run out when they said so
   * (after a holder's crash, its promises end up to leaseMs after its last
   * renewal: asking right then saves up to a renewal period of failover).
   */
  giveWay (now: number, claim: LeaseClaim): void {
    this.drop(claim)
    const promisesEnd = claim.retryInMs > 0 ? claim.sentAt + claim.retryInMs + 1 : Infinity
    this.#retryAt.set(claim.service, Math.min(now + this.#config.renewMs, Math.max(now, promisesEnd)))
  }

  /** Another member's request: the granter's answer goes back to it. */
  request (now: number, from: MemberId, msg: Request): void {
    const answer = this.granter.request(now, from, msg.service, msg.epoch)
    if (answer.granted) this.stats.leasesGranted++
    else this.stats.leasesRefused++
    this.#host.send(from, { type: 'service-lease-reply', service: msg.service, epoch: msg.epoch, round: msg.round, ...answer })
  }

  answer (now: number, from: MemberId, msg: Reply): void {
    const claim = this.#claims.get(msg.service)
    if (claim == null || claim.epoch !== msg.epoch) return
    if (!msg.granted) this.granter.observe(msg.service, msg.maxEpoch)
    if (claim.answer(from, msg.round, msg)) this.#host.granted(now, claim)
  }

  /** Renewal rounds that are due. */
  tick (now: number): void {
    for (const claim of this.#claims.values()) if (now >= claim.sentAt + this.#config.renewMs) this.round(now, claim)
  }

  nextDeadline (): number {
    let next = Infinity
    for (const claim of this.#claims.values()) next = Math.min(next, claim.sentAt + this.#config.renewMs)
    return next
  }
}
