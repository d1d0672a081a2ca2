/**
 * The singleton lease: a quorum lease, so that a singleton never runs twice
 * whatever the failure detector believes.
 *
 * Granter (every member): it promises the lease of a service to one member
 * for leaseMs from the moment the request arrives, and refuses anyone else
 * while that promise lasts. A new holder must also bring an epoch above
 * every epoch the granter has granted or heard of, which makes epochs grow
 * strictly per service (they fence stale writers). A granter that just
 * started grants nothing for leaseMs: it may have forgotten a promise.
 *
 * Holder (the member that runs, or wants to run, the singleton): every
 * renewMs it asks every live member; once a majority of the membership (it
 * counts itself) granted a round, it may run until the round's send time
 * plus leaseMs. That end is earlier than every granter's promise (each
 * started counting later, on arrival), so when a holder cannot renew (a
 * partition, a freeze) its instance is dead (supervisor.ts kills it at that
 * end, even if the agent is frozen) before any majority can grant the lease
 * to another member. Clocks only need to run at the same rate.
 */
import type { MemberId } from './types.ts'

export interface GrantAnswer {
  granted: boolean
  maxEpoch: number
  holder?: MemberId
  /** A refusal because of a promise to another member: it runs out in this long (ask again then, not sooner). */
  retryInMs?: number
}

interface Promised {
  holder: MemberId
  epoch: number
  until: number
}

export class LeaseGranter {
  readonly #leaseMs: number
  /** Grants nothing before this time (a restarted member may have had promises). */
  readonly #grantsFrom: number
  readonly #promises = new Map<string, Promised>()
  /** Per service, the highest epoch granted or heard of, and who had it. */
  readonly #max = new Map<string, { epoch: number, holder?: MemberId }>()

  constructor (now: number, leaseMs: number, epochs: Record<string, number> = {}) {
    this.#leaseMs = leaseMs
    this.#grantsFrom = now + leaseMs
    for (const [service, epoch] of Object.entries(epochs)) this.#max.set(service, { epoch })
  }

  request (now: number, from: MemberId, service: string, epoch: number): GrantAnswer {
    const promise = this.#promises.get(service)
    const max = this.#max.get(service)
    const maxEpoch = max?.epoch ?? 0
    const promised = promise != null && promise.until > now && promise.holder !== from ? promise : undefined
    const refuse = (retryInMs?: number): GrantAnswer => ({ granted: false, maxEpoch, holder: promised?.holder ?? max?.holder, ...(retryInMs != null ? { retryInMs } : {}) })
    if (now < this.#grantsFrom) return refuse(this.#grantsFrom - now)
    if (promised != null) return refuse(promised.until - now)
    // A new holder needs a new epoch; its current holder may renew the epoch it has.
    if (epoch < maxEpoch || (epoch === maxEpoch && max?.holder !== from)) return refuse()
    this.#promises.set(service, { holder: from, epoch, until: now + this.#leaseMs })
    this.#max.set(service, { epoch, holder: from })
    return { granted: true, maxEpoch: epoch }
  }

  /** The holder stopped: its promise may go (the epoch stays known). */
  release (from: MemberId, service: string, epoch: number): void {
    const promise = this.#promises.get(service)
    if (promise?.holder === from && promise.epoch === epoch) this.#promises.delete(service)
  }

  /** An epoch seen elsewhere (a member's report, a refusal): never grant at or below it to another member. */
  observe (service: string, epoch: number, holder?: MemberId): boolean {
    const max = this.#max.get(service)
    if (max != null && (epoch < max.epoch || (epoch === max.epoch && max.holder != null))) return false
    this.#max.set(service, { epoch, holder: holder ?? (max != null && epoch === max.epoch ? max.holder : undefined) })
    return true
  }

  maxEpoch (service: string): number {
    return this.#max.get(service)?.epoch ?? 0
  }

  epochs (): Record<string, number> {
    return Object.fromEntries([...this.#max].map(([service, { epoch }]) => [service, epoch]))
  }

  /** The earliest time a promise runs out (Infinity: none). */
  nextExpiry (now: number): number {
    let next = Infinity
    for (const [service, p] of this.#promises) {
      if (p.until <= now) this.#promises.delete(service)
      else next = Math.min(next, p.until)
    }
    return next
  }
}

/** One member's attempt to hold a singleton's lease: its rounds of requests and the majority's grants. */
export class LeaseClaim {
  readonly service: string
  epoch: number
  /** Core time the lease lasts until (-Infinity: never granted at this epoch). */
  until = -Infinity
  round = 0
  #sentAt = -Infinity
  #quorum = 1
  #grants = new Set<MemberId>()
  #refusals = new Set<MemberId>()
  /** Members asked this round, this member included. */
  #asked = 1
  /** The highest epoch a refusal named: the next attempt goes above it. */
  refusedAt = 0
  /** Who a refusal named as holder. */
  refusedBy: MemberId | undefined
  /** The latest a refusal said its promise to another member runs out in, from the round's start. */
  retryInMs = 0

  readonly #leaseMs: number

  constructor (service: string, epoch: number, leaseMs: number, lastRound = 0) {
    this.service = service
    this.epoch = epoch
    this.#leaseMs = leaseMs
    this.round = lastRound
  }

  /** Starts a round at `now`, asking `asked` members (this one included): `quorum` grants make the lease. */
  newRound (now: number, quorum: number, asked: number): number {
    this.round++
    this.#sentAt = now
    this.#quorum = quorum
    this.#asked = asked
    this.#grants = new Set()
    this.#refusals = new Set()
    this.retryInMs = 0
    return this.round
  }

  /** This round can no longer reach a majority: too many refused (another member holds or wants the lease). */
  get lost (): boolean {
    return this.#asked - this.#refusals.size < this.#quorum
  }

  /** When the last round was sent. */
  get sentAt (): number {
    return this.#sentAt
  }

  /** An answer; true when it completed a majority that extends the lease. */
  answer (from: MemberId, round: number, reply: GrantAnswer): boolean {
    if (round !== this.round) return false
    if (!reply.granted) {
      this.#refusals.add(from)
      this.refusedAt = Math.max(this.refusedAt, reply.maxEpoch)
      if (reply.holder != null && reply.holder !== from) this.refusedBy = reply.holder
      this.retryInMs = Math.max(this.retryInMs, reply.retryInMs ?? 0)
      return false
    }
    this.#grants.add(from)
    if (this.#grants.size < this.#quorum || this.until >= this.#sentAt + this.#leaseMs) return false
    this.until = this.#sentAt + this.#leaseMs
    return true
  }

  /** The same service at a new epoch (a restart here): the lease must be granted again at it. */
  bump (epoch: number): void {
    this.epoch = epoch
    this.until = -Infinity
  }
}

