/**
 * Rejoin after a restart: with a --data-dir the agent keeps the members it
 * knows in `members.json` (peer id, name, addresses, status, incarnation), and
 * a restarted agent contacts them again as join seeds, with or without
 * `--join` (like Serf's snapshot and -rejoin). After a graceful leave it does
 * not, unless started with `rejoin` (--rejoin): leaving means leaving.
 *
 * Writes are atomic (a temporary file renamed) and at most one per
 * SNAPSHOT_EVERY_MS, the latest state winning, so a burst of member events
 * costs one write.
 */
import { readFile } from 'node:fs/promises'
import { writeDataFile } from './data-file.ts'
import { join } from 'node:path'
import type { Destination, Member } from '../membership/index.ts'

const FILE = 'members.json'
const SNAPSHOT_EVERY_MS = 1000
/** Seeds taken from a snapshot: enough to find the cluster, bounded against a huge file. */
const MAX_SEEDS = 64

export interface MemberSnapshot {
  /** This agent left gracefully last time. */
  left: boolean
  members: Array<{ id: string, name: string, addrs: string[], status: string, incarnation: number }>
}

/** The snapshot in `dataDir`, or undefined (none, or unreadable: then a warning). */
export async function loadSnapshot (dataDir: string | undefined, warn: (message: string) => void): Promise<MemberSnapshot | undefined> {
  if (dataDir == null) return undefined
  try {
    const raw = JSON.parse(await readFile(join(dataDir, FILE), 'utf8')) as Partial<MemberSnapshot>
    const members = (Array.isArray(raw.members) ? raw.members : []).filter(m =>
      typeof m?.id === 'string' && typeof m.name === 'string' && Array.isArray(m.addrs) && m.addrs.every(a => typeof a === 'string'))
    return { left: raw.left === true, members }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`could not read ${join(dataDir, FILE)} (${(err as Error).message}); not rejoining from it`)
    return undefined
  }
}

/** Join seeds from a snapshot: every member but this one and those that left, most recently alive first. */
export function rejoinSeeds (snapshot: MemberSnapshot, selfId: string): Destination[] {
  const rank = (status: string): number => status === 'alive' ? 0 : status === 'suspect' ? 1 : 2
  return snapshot.members
    .filter(m => m.id !== selfId && m.status !== 'left' && m.addrs.length > 0)
    .sort((a, b) => rank(a.status) - rank(b.status))
    .slice(0, MAX_SEEDS)
    .map(m => ({ id: m.id, addrs: m.addrs }))
}

/** Members of the last run to join again, unless this agent left gracefully then and is not told to rejoin. */
export async function snapshotSeeds (options: { dataDir?: string, rejoin: boolean, join: string[] }, self: string, warn: (message: string) => void): Promise<Destination[]> {
  const snapshot = await loadSnapshot(options.dataDir, warn)
  if (snapshot == null) return []
  const seeds = rejoinSeeds(snapshot, self)
  if (!snapshot.left || options.rejoin) return seeds
  if (seeds.length > 0 && options.join.length === 0) warn('this agent left the cluster gracefully last time: not rejoining its members (--rejoin does, --join joins anew)')
  return []
}

export class SnapshotWriter {
  readonly #dataDir: string | undefined
  readonly #warn: (message: string) => void
  #pending: MemberSnapshot | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #writing: Promise<void> | undefined

  constructor (dataDir: string | undefined, warn: (message: string) => void) {
    this.#dataDir = dataDir
    this.#warn = warn
  }

  /** The members changed: stored within SNAPSHOT_EVERY_MS. */
  update (members: Member[], left = false): void {
    if (this.#dataDir == null) return
    this.#pending = {
      left,
      members: members.map(m => ({ id: m.id, name: m.name, addrs: [...m.addrs], status: m.status, incarnation: m.incarnation }))
    }
    this.#timer ??= setTimeout(() => { this.#timer = undefined; void this.#write() }, SNAPSHOT_EVERY_MS)
    this.#timer.unref?.()
  }

  /** Writes what is pending now (the agent stops). */
  async flush (): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#writing
    await this.#write()
  }

  async #write (): Promise<void> {
    const snapshot = this.#pending
    const dir = this.#dataDir
    if (snapshot == null || dir == null) return
    this.#pending = undefined
    const write = (async () => {
      try {
        await writeDataFile(dir, FILE, snapshot)
      } catch (err) {
        this.#warn(`could not store the members in ${dir}: ${(err as Error).message}`)
      }
    })()
    this.#writing = write
    await write
  }
}
