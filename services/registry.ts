/**
 * The service registry every member holds: a last-writer-wins map from
 * service name to its newest entry. A version is a Lamport clock with the
 * writer's id as tie-break (types.ts Version), so any two members that saw
 * the same entries hold the same registry, whatever the order they came in.
 * A removal is an entry without a definition, so it wins over older copies
 * still travelling.
 */
import { fnv1a64 } from '../workloads/rendezvous.ts'
import { SERVICE_LIMITS } from './definition.ts'
import type { MemberId, RegistryEntry, ServiceDefinition, Version } from './types.ts'

export function newer (a: Version, b: Version): boolean {
  return a.clock !== b.clock ? a.clock > b.clock : a.writer > b.writer
}

/** A version as one string (what an instance remembers it started from). */
export function versionKey (entry: RegistryEntry | undefined): string {
  return entry == null ? '' : `${entry.version.clock}/${entry.version.writer}`
}

export class Registry {
  readonly #entries = new Map<string, RegistryEntry>()
  /** The Lamport clock: above every version seen. */
  #clock = 0
  #digest: string | undefined

  constructor (entries: readonly RegistryEntry[] = []) {
    this.merge(entries)
  }

  /** A local write (an add, an update, or with `definition` null a removal): the new entry, newer than any seen. */
  write (writer: MemberId, name: string, definition: ServiceDefinition | null): RegistryEntry {
    const entry: RegistryEntry = { name, version: { clock: ++this.#clock, writer }, definition }
    this.#entries.set(name, entry)
    this.#digest = undefined
    return entry
  }

  /** Takes the entries newer than what is held; returns the names that changed. */
  merge (entries: readonly RegistryEntry[]): string[] {
    const changed: string[] = []
    for (const entry of entries) {
      this.#clock = Math.max(this.#clock, entry.version.clock)
      const held = this.#entries.get(entry.name)
      if (held != null && !newer(entry.version, held.version)) continue
      if (held == null && this.#entries.size >= SERVICE_LIMITS.services) continue // full: a bound on what members can make us store
      this.#entries.set(entry.name, entry)
      changed.push(entry.name)
    }
    if (changed.length > 0) this.#digest = undefined
    return changed
  }

  get (name: string): RegistryEntry | undefined {
    return this.#entries.get(name)
  }

  /** The services defined now (removals left out), by name. */
  definitions (): ServiceDefinition[] {
    return [...this.#entries.values()].flatMap(e => e.definition ?? []).sort((a, b) => a.name < b.name ? -1 : 1)
  }

  entries (): RegistryEntry[] {
    return [...this.#entries.values()]
  }

  /** Whether a new name can still be added (the registry holds at most SERVICE_LIMITS.services). */
  hasRoomFor (name: string): boolean {
    return this.#entries.has(name) || this.#entries.size < SERVICE_LIMITS.services
  }

  get size (): number {
    return this.#entries.size
  }

  /** A hash of every (name, version): equal digests mean equal registries. */
  digest (): string {
    if (this.#digest == null) {
      const text = [...this.#entries.values()]
        .map(e => `${e.name}\u0000${e.version.clock}\u0000${e.version.writer}`)
        .sort()
        .join('\n')
      this.#digest = this.#entries.size === 0 ? '' : fnv1a64(text).toString(16)
    }
    return this.#digest
  }
}
