/**
 * JSON files under --data-dir (services, members, user events): written to a
 * temporary file renamed over the old one, so a crash mid-write leaves the
 * previous version (directory 0700, file 0600).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export async function writeDataFile (dir: string, name: string, value: unknown): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const tmp = join(dir, `${name}.tmp`)
  await writeFile(tmp, JSON.stringify(value), { mode: 0o600 })
  await rename(tmp, join(dir, name))
}
