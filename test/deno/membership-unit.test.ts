/**
 * The pure-core unit tests (test/unit/membership-*.test.ts, written for
 * node:test) run unchanged under `deno test`: Deno's node:test compatibility
 * registers each describe/it as a Deno test. New files matching the pattern
 * are picked up without editing this one.
 */
import { readdirSync } from 'node:fs'

const unit = new URL('../unit/', import.meta.url)
const files = readdirSync(unit).filter(f => /^membership-.+\.test\.ts$/.test(f)).sort()
if (files.length === 0) throw new Error(`no membership-*.test.ts in ${unit.pathname}`)
for (const file of files) await import(new URL(file, unit).href)
