/**
 * The bundle run through a code cache (agent/code-cache.js), as the installed
 * `agent` binary runs it: Node's built-ins the bundle names are loaded before
 * the agent's V8 flags are set, the first start writes the cache, the next one
 * starts from it, a damaged cache is rejected and replaced, and every start
 * serves the control API.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { isBuiltin } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { REPO } from './harness.ts'
import { BUILTINS_LINE } from '../../agent/code-cache.js'

interface Started { child: ChildProcess, stderr: () => string, control: string }

describe('the bundle with a code cache', () => {
  let dir: string
  let cacheDir: string
  let runner: string
  const children: ChildProcess[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'code-cache-test-'))
    cacheDir = join(dir, 'cache')
    await promisify(execFile)(process.execPath, [join(REPO, 'build/bundle.ts'), join(REPO, 'agent/main.ts'), join(dir, 'agent.cjs')], { cwd: REPO })
    runner = join(dir, 'run.mjs')
    // as agent/bin.js runs it: the young generation and the optimizing compilers held before the bundle is compiled (V8's flags are part of the cache's check)
    await writeFile(runner, `import { runWithCodeCache } from ${JSON.stringify(join(REPO, 'agent/code-cache.js'))}\nimport { holdYoungGeneration } from ${JSON.stringify(join(REPO, 'agent/young-generation.js'))}\nimport { holdOptimizingCompilers } from ${JSON.stringify(join(REPO, 'agent/optimizing-compilers.js'))}\nrunWithCodeCache(${JSON.stringify(join(dir, 'agent.cjs'))}, () => { holdYoungGeneration(); holdOptimizingCompilers() })\n`)
  })

  after(async () => {
    for (const child of children) child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })

  /** Starts an agent and resolves once it printed its control address and `code cache: <state>` (and, if asked, a line matching `until`). */
  async function start (until?: RegExp): Promise<Started> {
    const child = spawn(process.execPath, [runner, '--log-format', 'text', '--name', 'cc', '--rpc', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0'], {
      env: { ...process.env, AGENT_CODE_CACHE_DIR: cacheDir, AGENT_CODE_CACHE_AFTER_MS: '300', DEBUG: 'code-cache' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    children.push(child)
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
    const deadline = Date.now() + 20_000
    while (true) {
      const control = /control:\s+(\S+)/.exec(out)?.[1]
      if (control != null && /code cache: \w+/.test(err) && (until == null || until.test(err))) return { child, stderr: () => err, control }
      if (child.exitCode != null) throw new Error(`the agent exited ${child.exitCode}: ${err}`)
      if (Date.now() > deadline) throw new Error(`no start within 20 s: ${out} ${err}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  async function stop (s: Started): Promise<void> {
    s.child.kill('SIGKILL')
    if (s.child.exitCode == null) await new Promise(resolve => s.child.once('exit', resolve))
  }

  async function healthy (s: Started): Promise<boolean> {
    const res = await fetch(`${s.control}/v1/health`)
    await res.arrayBuffer()
    return res.ok
  }

  it('loads the built-in modules the bundle names before the V8 flags are set', async () => {
    const source = await readFile(join(dir, 'agent.cjs'), 'utf8')
    const lastLine = source.trimEnd().split('\n').at(-1) ?? ''
    assert.ok(lastLine.startsWith(BUILTINS_LINE), lastLine.slice(0, 80))
    const named = lastLine.slice(BUILTINS_LINE.length).split(' ')
    for (const name of ['crypto', 'http', 'net', 'zlib']) assert.ok(named.includes(name), `${name} in ${lastLine}`)
    assert.ok(named.every(name => isBuiltin(name)), lastLine)
    const s = await start()
    assert.match(s.stderr(), new RegExp(`code cache: ${named.length} built-in modules loaded before the V8 flags`))
    await stop(s)
  })

  it('writes a cache on the first start and starts from it next time', async () => {
    const first = await start(/code cache: written to /)
    assert.match(first.stderr(), /code cache: none/)
    assert.ok(await healthy(first))
    await stop(first)
    assert.equal((await readdir(cacheDir)).filter(f => f.endsWith('.v8cache')).length, 1)

    const second = await start()
    assert.match(second.stderr(), /code cache: accepted/)
    assert.ok(await healthy(second))
    await stop(second)
  })

  it('a damaged cache is rejected, the agent starts anyway and replaces it', async () => {
    const [file] = (await readdir(cacheDir)).filter(f => f.endsWith('.v8cache'))
    await writeFile(join(cacheDir, file), Buffer.alloc(4096, 7))
    const damaged = await start(/code cache: written to /)
    assert.match(damaged.stderr(), /code cache: rejected/)
    assert.ok(await healthy(damaged))
    await stop(damaged)

    const next = await start()
    assert.match(next.stderr(), /code cache: accepted/)
    await stop(next)
  })

  it('a new cache replaces the caches of earlier bundles', async () => {
    await writeFile(join(cacheDir, 'agent-v0.0.0-x64-1-1.v8cache'), 'stale')
    const [current] = (await readdir(cacheDir)).filter(f => f.endsWith('.v8cache') && !f.startsWith('agent-v0.0.0'))
    await rm(join(cacheDir, current))
    const fresh = await start(/code cache: written to /)
    await stop(fresh)
    assert.deepEqual((await readdir(cacheDir)).filter(f => f.endsWith('.v8cache')), [current])
  })

  it('AGENT_CODE_CACHE=off runs without one', async () => {
    process.env.AGENT_CODE_CACHE = 'off'
    try {
      const off = await start()
      assert.match(off.stderr(), /code cache: off/)
      assert.ok(await healthy(off))
      await stop(off)
    } finally {
      delete process.env.AGENT_CODE_CACHE
    }
  })
})
