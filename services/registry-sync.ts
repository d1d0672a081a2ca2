/**
 * Anti-entropy of the service registry: every member's state report carries
 * its registry's digest; a member whose digest differs gets this member's
 * entries and answers with its own if they still differ after the merge, so
 * two members agree after one exchange. At most one exchange per member per
 * refresh period, so a member that cannot converge does not cause a storm.
 */
import { Registry } from './registry.ts'
import type { MemberId, RegistryEntry, ServiceMessage } from './types.ts'

export class RegistrySync {
  readonly #registry: Registry
  readonly #minGapMs: number
  /** Per member, when the registries were last exchanged (members that left stay: a few numbers each). */
  readonly #exchanged = new Map<MemberId, number>()
  exchanges = 0

  constructor (registry: Registry, minGapMs: number) {
    this.#registry = registry
    this.#minGapMs = minGapMs
  }

  /** A member's report named `digest`: the entries to send it, when they differ and an exchange is due. */
  digestHeard (now: number, from: MemberId, digest: string): ServiceMessage | undefined {
    if (digest === this.#registry.digest() || now < (this.#exchanged.get(from) ?? -Infinity) + this.#minGapMs) return undefined
    this.#exchanged.set(from, now)
    this.exchanges++
    return { type: 'service-defs', entries: this.#registry.entries(), reply: true }
  }

  /** Entries arrived: merged; the answer when the sender asked for one and the registries still differ. */
  entriesHeard (entries: RegistryEntry[], reply: boolean): ServiceMessage | undefined {
    this.#registry.merge(entries)
    if (!reply || new Registry(entries).digest() === this.#registry.digest()) return undefined
    return { type: 'service-defs', entries: this.#registry.entries(), reply: false }
  }
}
