/**
 * Runs a script in a fresh Node process, for tests of what is process-wide
 * (V8's flags): the script is written to a file, not passed with -e, because
 * worker threads take the process's flags and --input-type is not one for a
 * file.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Runs `script` (an ES module) with `nodeFlags` and `env` added to this process's; returns what it printed, trimmed. */
export function runInFreshProcess (script: string, nodeFlags: string[] = [], env: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'fresh-process-'))
  try {
    writeFileSync(join(dir, 'case.mjs'), script)
    return execFileSync(process.execPath, [...nodeFlags, join(dir, 'case.mjs')], { encoding: 'utf8', env: { ...process.env, ...env } }).trim()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
