/**
 * Fails when a hand-written source file of a module is over 400 lines
 * (`npm run check:size`, part of `npm test`): a file that long mixes
 * concerns; split it by job. Generated code (gossip/generated/) is not read
 * by people and is left out.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const MAX_LINES = 400
const REPO = new URL('../', import.meta.url).pathname
const MODULES = ['agent', 'gossip', 'workloads', 'membership', 'services', 'testkit']
const GENERATED = new Set(['gossip/generated'])

function * sources (dir: string): Generator<string> {
  for (const entry of readdirSync(join(REPO, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`
    if (entry.isDirectory() && !GENERATED.has(path)) yield * sources(path)
    else if (entry.isFile() && /\.(ts|js)$/.test(entry.name)) yield path
  }
}

const existing = new Set(readdirSync(REPO))
const tooLong = MODULES.filter(m => existing.has(m)).flatMap(m => [...sources(m)])
  .map(path => ({ path, lines: readFileSync(join(REPO, path), 'utf8').split('\n').length - 1 }))
  .filter(f => f.lines > MAX_LINES)
for (const f of tooLong) console.error(`${f.path}: ${f.lines} lines (at most ${MAX_LINES}); split it by job`)
if (tooLong.length > 0) process.exit(1)
console.log(`no module file above ${MAX_LINES} lines`)
