/**
 * The README's examples as files (examples/), run as a user would from a
 * checkout after `npm ci`, so that the README cannot drift from what works.
 * They import the package by name: the build `npm ci` made (dist/).
 * examples/quick-start.sh needs fixed ports: test/lab/quick-start.test.ts
 * runs it in a network namespace of its own.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { REPO } from './harness.ts'

const run = promisify(execFile)

describe('examples/', () => {
  it('embedding.ts: two agents in one program join, see each other, one leaves', async () => {
    const { stdout } = await run(process.execPath, ['examples/embedding.ts'], { cwd: REPO, timeout: 60_000 })
    assert.match(stdout, /edge-2 knows: edge-1 alive, edge-2 alive/)
    assert.match(stdout, /edge-1 sees edge-2 leave/)
  })

  it('custom-workload.ts: a registered workload counts every line once across two agents', async () => {
    const { stdout } = await run(process.execPath, ['examples/custom-workload.ts'], { cwd: REPO, timeout: 60_000 })
    assert.match(stdout, /done: 5050 words/)
  })

  it('the README shows these files\' commands: the quick start\'s agents, the embedding snippet', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
    const script = await readFile(new URL('../../examples/quick-start.sh', import.meta.url), 'utf8')
    const readmeAgents = [...readme.matchAll(/^npx agent --name .*$/gm)].map(m => m[0])
    assert.equal(readmeAgents.length, 3)
    for (const line of readmeAgents) assert.ok(script.includes(line), `examples/quick-start.sh runs: ${line}`)
    assert.match(readme, /examples\/embedding\.ts/)
  })
})
