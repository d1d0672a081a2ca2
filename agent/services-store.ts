/**
 * The service registry and epochs under --data-dir (`services.json`), so that
 * a restarted agent, or a whole restarted cluster, still has its services and
 * keeps its epochs growing. Writes go to a temporary file renamed over the
 * old one (a crash mid-write leaves the previous version), one at a time,
 * the latest state winning.
 */
import { readFile } from 'node:fs/promises'
import { writeDataFile } from './data-file.ts'
import { join } from 'node:path'
import { newer, parseDefinition, type PersistedServices, type RegistryEntry } from '../services/index.ts'

const FILE = 'services.json'

/** Reads what was stored; a missing file is an empty registry, a damaged entry is skipped with a warning. */
export async function loadServices (dataDir: string | undefined, warn: (message: string) => void): Promise<PersistedServices> {
  const empty: PersistedServices = { entries: [], epochs: {} }
  if (dataDir == null) return empty
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(join(dataDir, FILE), 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`could not read ${join(dataDir, FILE)} (${(err as Error).message}); starting with no services`)
    return empty
  }
  const stored = raw as { entries?: unknown, epochs?: unknown }
  const entries: RegistryEntry[] = []
  for (const e of Array.isArray(stored.entries) ? stored.entries as Array<Record<string, unknown>> : []) {
    try {
      const version = e.version as RegistryEntry['version']
      if (typeof e.name !== 'string' || !Number.isSafeInteger(version?.clock) || typeof version?.writer !== 'string') throw new Error('bad entry')
      const definition = e.definition === null ? null : parseDefinition(e.definition)
      const entry = { name: e.name, version: { clock: version.clock, writer: version.writer }, definition }
      const held = entries.findIndex(x => x.name === entry.name)
      if (held < 0) entries.push(entry)
      else if (newer(entry.version, entries[held].version)) entries[held] = entry
    } catch (err) {
      warn(`skipping a damaged service entry in ${FILE}: ${(err as Error).message}`)
    }
  }
  const epochs: Record<string, number> = {}
  for (const [name, epoch] of Object.entries(stored.epochs ?? {})) if (Number.isSafeInteger(epoch) && epoch > 0) epochs[name] = epoch
  const voters = Array.isArray((stored as { voters?: unknown }).voters) ? ((stored as { voters: unknown[] }).voters).filter((v): v is string => typeof v === 'string') : []
  return { entries, epochs, voters }
}

export class ServicesStore {
  readonly #dataDir: string | undefined
  readonly #warn: (message: string) => void
  #pending: PersistedServices | undefined
  #writing: Promise<void> | undefined

  constructor (dataDir: string | undefined, warn: (message: string) => void) {
    this.#dataDir = dataDir
    this.#warn = warn
  }

  save (state: PersistedServices): void {
    if (this.#dataDir == null) return
    this.#pending = state
    this.#writing ??= this.#drain()
  }

  /** Resolves once what was saved is on disk. */
  async flushed (): Promise<void> {
    await this.#writing
  }

  async #drain (): Promise<void> {
    const dir = this.#dataDir as string
    while (this.#pending != null) {
      const state = this.#pending
      this.#pending = undefined
      try {
        await writeDataFile(dir, FILE, state)
      } catch (err) {
        this.#warn(`could not store the services in ${dir}: ${(err as Error).message}`)
      }
    }
    this.#writing = undefined
  }
}
