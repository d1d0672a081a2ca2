/**
 * The package as a user installs it: `npm pack`, install the tarball into an
 * empty folder, run its `agent` binary (compiled JS) and import createAgent,
 * and run its bundle on Deno next to an agent running the sources.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { DENO_EDGE_ENV } from '../../deno-compat/edge-settings.ts'
import { newClusterKey } from '../../gossip/cluster-key.ts'
import type { JobView } from '../../workloads/index.ts'
import { REPO, killAll, runCli, startAgent, waitAllSee } from './harness.ts'

const run = promisify(execFile)
// The installed bin starts with `#!/usr/bin/env node`: put the pinned Node first on PATH.
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` }

describe('npm package', () => {
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agent-pkg-'))
    const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: REPO, env, maxBuffer: 16 << 20 })
    const tarball = join(dir, stdout.trim().split('\n').pop()!)
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: dir, env, maxBuffer: 16 << 20 })
  })
  after(async () => { if (dir !== '') await rm(dir, { recursive: true, force: true }) })

  it('installs a working `agent` binary that runs compiled JS', async () => {
    const { stdout } = await run(join(dir, 'node_modules/.bin/agent'), ['help'], { cwd: dir, env })
    assert.match(stdout, /Usage:/)
    const child = spawn(join(dir, 'node_modules/.bin/agent'), ['--name', 'pkg', '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc', '127.0.0.1:0'], { cwd: dir, env })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
    const deadline = Date.now() + 20_000
    while (!/"event":"agent:started"/.test(out) && Date.now() < deadline && child.exitCode == null) await new Promise(resolve => setTimeout(resolve, 50))
    // Not a terminal: the log is JSON lines, through the pino bundled in the package.
    const started = out.split('\n').filter(l => l.includes('"event":"agent:started"')).map(l => JSON.parse(l) as { msg: string, control: string })
    assert.equal(started[0]?.msg, 'agent pkg started', out)
    assert.match(started[0].control, /^http:\/\/127\.0\.0\.1:\d+$/)
    child.kill('SIGTERM')
    assert.equal(await exited, 0, out)
  })

  it('exports createAgent for embedding', async () => {
    const script = "import { createAgent } from 'gossip-cluster-agent'\n" +
      "const a = createAgent({ name: 'embedded', listen: ['/ip4/127.0.0.1/tcp/0'], rpc: false })\n" +
      'await a.start(); console.log(a.members().length, a.self().status); await a.stop()\n'
    await writeFile(join(dir, 'embed.mjs'), script)
    const { stdout } = await run(process.execPath, ['embed.mjs'], { cwd: dir, env })
    assert.equal(stdout.trim(), '1 alive')
  })

  it('exports the test kit: a simulated cluster from the installed package', async () => {
    const script = "import { createTestCluster } from 'gossip-cluster-agent/testkit'\n" +
      "const cluster = await createTestCluster({ size: 3, mode: 'simulated', seed: 1 })\n" +
      'await cluster.converged(); await cluster.crash(2); await cluster.memberIs(0, 2, "failed", "crash")\n' +
      'console.log((await cluster.views())[0].map(m => m.status).join(" ")); await cluster.stop()\n'
    await writeFile(join(dir, 'kit.mjs'), script)
    const { stdout } = await run(process.execPath, ['kit.mjs'], { cwd: dir, env })
    assert.equal(stdout.trim(), 'alive alive failed')
  })

  it('exports the test kit: agent processes of the installed package, one frozen by SIGSTOP', async () => {
    const script = "import { createTestCluster } from 'gossip-cluster-agent/testkit'\n" +
      "const cluster = await createTestCluster({ size: 3, mode: 'processes' })\n" +
      'try { await cluster.converged(); await cluster.freeze(2); await cluster.memberIs(0, 2, "failed")\n' +
      'console.log(cluster.process(2).child.spawnargs[1])\n' +
      'console.log((await cluster.views())[0].map(m => m.status).sort().join(" ")) } finally { await cluster.stop() }\n'
    await writeFile(join(dir, 'kit-processes.mjs'), script)
    const { stdout } = await run(process.execPath, ['kit-processes.mjs'], { cwd: dir, env })
    const [entry, statuses] = stdout.trim().split('\n')
    assert.equal(entry, join(dir, 'node_modules/gossip-cluster-agent/agent/bin.js'), 'the agent is the package\'s own binary')
    assert.equal(statuses, 'alive alive failed')
  })

  it('the installed bundle runs on Deno with the device settings and shares a job with an agent running the sources, under a cluster key', async () => {
    // The bundle swaps noise's and pnet's WebAssembly ciphers for JavaScript ones (build/wasm-free/):
    // every frame between these two agents crosses both implementations.
    const keyFile = join(dir, 'cluster.key')
    await writeFile(keyFile, newClusterKey(), { mode: 0o600 })
    const key = ['--cluster-key', keyFile]
    const sources = await startAgent({ name: 'sources', extraArgs: key })
    // On the edge profile with the settings `deno task agent:edge` runs a device with (docs/configuration.md, Profiles).
    const bundle = await startAgent({
      name: 'bundle',
      runtime: 'deno',
      denoEntry: join(dir, 'node_modules/gossip-cluster-agent/dist/agent.mjs'),
      profile: 'edge',
      env: DENO_EDGE_ENV,
      join: [sources.multiaddrs[0]],
      extraArgs: key
    })
    try {
      await waitAllSee([sources, bundle], [sources, bundle], 'alive', 20_000)
      const { code, stdout, stderr } = await runCli(['submit', 'sleep', '--input', '{"tasks":20,"ms":50}', '--json', '--rpc', bundle.rpc], 30_000)
      assert.equal(code, 0, stderr)
      const job = JSON.parse(stdout) as JobView
      assert.equal(job.result, 20)
      assert.deepEqual(Object.keys(job.stats.perNode).sort(), ['bundle', 'sources'])
    } finally {
      await killAll([sources, bundle])
    }
  })
})
