/**
 * What `npx agent` runs in a checkout (agent/bin.js): the bundle while it is
 * newer than every source file, the TypeScript sources after an edit (never a
 * stale build), and either one when asked. Checked on a copy of bin.js in a
 * temporary tree whose main.ts and dist/agent.cjs only say which one ran.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const REPO = new URL('../../', import.meta.url).pathname

describe('agent/bin.js: the bundle unless the sources are newer', () => {
  let root = ''
  const at = (path: string, seconds: number): void => { utimesSync(join(root, path), seconds, seconds) }
  async function ran (env: Record<string, string> = {}): Promise<string> {
    const base: NodeJS.ProcessEnv = { ...process.env, AGENT_CODE_CACHE: 'off' }
    delete base.AGENT_RUN_SOURCES
    delete base.AGENT_PREFER_BUNDLE
    const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'agent/bin.js')], { env: { ...base, ...env } })
    return stdout.trim()
  }

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'bin-entry-'))
    for (const dir of ['agent', 'gossip', 'dist']) mkdirSync(join(root, dir))
    copyFileSync(join(REPO, 'agent/bin.js'), join(root, 'agent/bin.js'))
    copyFileSync(join(REPO, 'agent/code-cache.js'), join(root, 'agent/code-cache.js'))
    copyFileSync(join(REPO, 'agent/young-generation.js'), join(root, 'agent/young-generation.js'))
    copyFileSync(join(REPO, 'agent/optimizing-compilers.js'), join(root, 'agent/optimizing-compilers.js'))
    writeFileSync(join(root, 'agent/main.ts'), "console.log('sources')\n")
    writeFileSync(join(root, 'gossip/config.ts'), 'export {}\n')
    writeFileSync(join(root, 'dist/agent.cjs'), "console.log('bundle')\n")
  })
  after(() => { rmSync(root, { recursive: true, force: true }) })

  it('runs the bundle built after the last edit', async () => {
    at('agent/main.ts', 1000); at('gossip/config.ts', 1000); at('dist/agent.cjs', 2000)
    assert.equal(await ran(), 'bundle')
  })

  it('runs the sources once any of them is newer than the bundle', async () => {
    at('agent/main.ts', 1000); at('gossip/config.ts', 3000); at('dist/agent.cjs', 2000)
    assert.equal(await ran(), 'sources')
  })

  it('AGENT_RUN_SOURCES=1 and AGENT_PREFER_BUNDLE=1 choose whatever the ages', async () => {
    at('agent/main.ts', 1000); at('gossip/config.ts', 1000); at('dist/agent.cjs', 2000)
    assert.equal(await ran({ AGENT_RUN_SOURCES: '1' }), 'sources')
    at('gossip/config.ts', 3000)
    assert.equal(await ran({ AGENT_PREFER_BUNDLE: '1' }), 'bundle')
  })
})
