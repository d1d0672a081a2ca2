/**
 * The first hour of a new user, command by command: what the agent says when
 * a join reaches nobody, when a port is taken, when a subcommand is mistyped
 * or `exec` is off, and what `agent submit` does when its agent dies under it.
 * Each test runs the command a user would and checks what they would read.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { MAIN, REPO, killAll, runCli, startAgent, waitAllSee, waitFor, type AgentProcess } from './harness.ts'

/** A TCP port nothing listens on: bound, read, released. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise(resolve => server.close(resolve))
  return port
}

async function health (agent: AgentProcess): Promise<{ joined: boolean, joinError?: string }> {
  const res = await fetch(`http://${agent.rpc}/v1/health`, { signal: AbortSignal.timeout(5000) })
  return await res.json() as { joined: boolean, joinError?: string }
}

/** `agent submit ARGS` left running: its output so far, its exit, and the job id once it printed "accepted". */
function submitInBackground (args: string[]): { stdout: () => string, stderr: () => string, exited: Promise<number | null>, acceptedId: () => Promise<string>, kill: () => void } {
  const child = spawn(process.execPath, [MAIN, 'submit', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    exited: new Promise(resolve => child.on('exit', code => resolve(code))),
    acceptedId: async () => {
      await waitFor('the job id on stderr', () => /job [0-9a-f]+ accepted/.test(stderr), 15_000)
      return /job ([0-9a-f]+) accepted/.exec(stderr)![1]
    },
    kill: () => { child.kill('SIGKILL') }
  }
}

describe('the first hour', () => {
  const started: AgentProcess[] = []
  after(async () => { await killAll(started) })

  it('a --join that reaches nobody says why on stderr, retries, and /v1/health shows joined: false with the error', async () => {
    const port = await closedPort()
    const lonely = await startAgent({ name: 'lonely', join: [`/ip4/127.0.0.1/tcp/${port}`] })
    started.push(lonely)
    await waitFor('a join failure on the output', () => /join: \/ip4\/127\.0\.0\.1\/tcp\/\d+ refused \(is an agent listening there\?\) \(attempt 1\), retrying in/.test(lonely.output()), 15_000)
    const view = await health(lonely)
    assert.equal(view.joined, false)
    assert.match(view.joinError ?? '', new RegExp(`/ip4/127\\.0\\.0\\.1/tcp/${port} refused`))
    const info = await runCli(['info', '--rpc', lonely.rpc])
    assert.equal(info.code, 0, info.stderr)
    assert.match(info.stdout, new RegExp(`joined:\\s+no, last attempt: /ip4/127\\.0\\.0\\.1/tcp/${port} refused`))
  })

  it('a join that succeeds is announced, and /v1/health shows joined: true', async () => {
    const seed = await startAgent({ name: 'seed' })
    const joiner = await startAgent({ name: 'joiner', join: [seed.multiaddrs[0]] })
    started.push(seed, joiner)
    await waitFor('"joined the cluster through seed"', () => /joined the cluster through seed/.test(joiner.output()), 15_000)
    const view = await health(joiner)
    assert.equal(view.joined, true)
    assert.equal(view.joinError, undefined)
    assert.equal((await health(seed)).joined, true, 'an agent without --join is joined')
    assert.match((await runCli(['info', '--rpc', joiner.rpc])).stdout, /joined:\s+yes/)
  })

  it('a gossip or control port in use: one line that names the port and the flag, exit 1', async () => {
    const taken: Server = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const gossip = await runCli(['--name', 'clash', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--rpc', '127.0.0.1:0'])
      assert.equal(gossip.code, 1)
      assert.match(gossip.stderr, new RegExp(`port ${port} is in use \\(/ip4/127\\.0\\.0\\.1/tcp/${port}\\).*pass --listen`))
      assert.doesNotMatch(gossip.stderr, /faultTolerance|\n\s+at /)
      const rpc = await runCli(['--name', 'clash', '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc', `127.0.0.1:${port}`])
      assert.equal(rpc.code, 1)
      assert.match(rpc.stderr, new RegExp(`control API port ${port} is in use.*--rpc 127\\.0\\.0\\.1:PORT`))
    } finally {
      await new Promise(resolve => taken.close(resolve))
    }
  })

  it('the CLI reaches an agent on a port fetch refuses (6666)', async (t) => {
    const agent = await startAgent({ name: 'port6666', extraArgs: ['--rpc', '127.0.0.1:6666'] }).catch(() => undefined)
    if (agent == null) { t.skip('port 6666 is taken on this machine'); return }
    started.push(agent)
    const { code, stdout, stderr } = await runCli(['members', '--rpc', '127.0.0.1:6666'])
    assert.equal(code, 0, stderr)
    assert.match(stdout, /port6666\s+\S+\s+alive/)
  })

  it('`agent submit exec` on an agent without --allow-exec says it is disabled and how to enable it', async () => {
    const agent = await startAgent({ name: 'no-exec' })
    started.push(agent)
    const { code, stderr } = await runCli(['submit', 'exec', '--input', '{"command":"true"}', '--rpc', agent.rpc])
    assert.equal(code, 1)
    assert.match(stderr, /the exec workload is disabled on this agent: start the agent with --allow-exec/)
  })

  it('CLI habits: a mistyped subcommand gets a suggestion, SUBCOMMAND --help and --version answer, a usage error is one line and a hint', async () => {
    const typo = await runCli(['member'])
    assert.equal(typo.code, 2)
    assert.match(typo.stderr, /unknown command "member"; did you mean "members"\?/)
    const help = await runCli(['submit', '--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /agent submit WORKLOAD/)
    assert.doesNotMatch(help.stdout, /agent members/, 'only the subcommand\'s help')
    const version = await runCli(['--version'])
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    assert.equal(version.stdout.trim(), pkg.version)
    const usage = await runCli(['submit', 'sleep', '--deadline', 'soon'])
    assert.equal(usage.code, 2)
    assert.deepEqual(usage.stderr.trim().split('\n'), ['agent: --deadline expects a duration such as 90s, 10m or 2h, got "soon"', 'Run `agent submit --help` for usage.'])
    assert.match((await runCli(['--help'])).stdout, /--no-rpc/)
  })

  it('two agents with one --name: the second is warned, and an echo returns both answers apart', async () => {
    const seed = await startAgent({ name: 'hub' })
    const first = await startAgent({ name: 'twin', join: [seed.multiaddrs[0]] })
    started.push(seed, first)
    await waitAllSee([seed, first], [seed, first], 'alive', 15_000)
    const second = await startAgent({ name: 'twin', join: [seed.multiaddrs[0]] })
    started.push(second)
    await waitAllSee([seed, first, second], [seed, first, second], 'alive', 15_000)
    await waitFor('the duplicate-name warning', () => /member \S+ is also named "twin"/.test(second.output()), 10_000)
    const { code, stdout, stderr } = await runCli(['submit', 'echo', '--json', '--rpc', seed.rpc])
    assert.equal(code, 0, stderr)
    const answers = Object.keys((JSON.parse(stdout) as { result: Record<string, unknown> }).result).sort()
    assert.deepEqual(answers, ['hub', `twin@${first.peerId.slice(-8)}`, `twin@${second.peerId.slice(-8)}`].sort())
  })

  it('GET /v1/events carries the job events of the jobs this agent coordinates: accepted, progress, done', async () => {
    const agent = await startAgent({ name: 'events' })
    started.push(agent)
    const abort = new AbortController()
    const res = await fetch(`http://${agent.rpc}/v1/events`, { signal: abort.signal })
    const seen: Array<{ type: string, id: string, status: string }> = []
    const reading = (async () => {
      let buffer = ''
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
      for (let read = await reader.read(); !read.done; read = await reader.read()) {
        buffer += read.value
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const type = /^event: (job:\S+)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (type != null && data != null) {
            const view = JSON.parse(data) as { id: string, status: string }
            seen.push({ type, id: view.id, status: view.status })
          }
        }
      }
    })().catch(() => {})
    try {
      const { code, stdout, stderr } = await runCli(['submit', 'sleep', '--input', '{"tasks":20,"ms":100}', '--json', '--rpc', agent.rpc])
      assert.equal(code, 0, stderr)
      const id = (JSON.parse(stdout) as { id: string }).id
      await waitFor('job:done on /v1/events', () => seen.some(e => e.type === 'job:done'), 10_000)
      const types = seen.filter(e => e.id === id).map(e => e.type)
      assert.equal(types[0], 'job:accepted')
      assert.equal(types.at(-1), 'job:done')
      assert.ok(types.includes('job:progress'), types.join(' '))
      assert.ok(types.filter(t => t === 'job:progress').length <= 10, `progress is rate-bounded: ${types.length} events for 20 tasks of 100 ms`)
    } finally {
      abort.abort()
      await reading
    }
  })

  it('a waiting `agent submit` prints the job id at once and follows the job on the next --rpc when its agent is killed', async () => {
    const a = await startAgent({ name: 'sub-a' })
    const b = await startAgent({ name: 'sub-b', join: [a.multiaddrs[0]] })
    const c = await startAgent({ name: 'sub-c', join: [a.multiaddrs[0]] })
    started.push(a, b, c)
    await waitAllSee([a, b, c], [a, b, c], 'alive', 20_000)

    const submit = submitInBackground(['sleep', '--input', '{"tasks":30,"ms":300}', '--rpc', a.rpc, '--rpc', b.rpc, '--json'])
    try {
      const id = await submit.acceptedId()
      // Killed at once: the answer came only after a replica held the job.
      a.child.kill('SIGKILL')
      const code = await submit.exited
      assert.match(submit.stderr(), new RegExp(`lost the agent at ${a.rpc.replace(/\./g, '\\.')}; following job ${id} on ${b.rpc.replace(/\./g, '\\.')}`))
      assert.equal(code, 0, submit.stderr())
      const job = JSON.parse(submit.stdout()) as { id: string, status: string, result: number, createdAt: string, durationMs: number }
      assert.deepEqual([job.id, job.status, job.result], [id, 'done', 30])
      assert.ok(Date.parse(job.createdAt) <= Date.now() && job.durationMs > 0, `created ${job.createdAt}, ${job.durationMs} ms`)
      // the plain output shows when it was created, how long it ran, and the takeover
      const plain = await runCli(['job', id, '--rpc', c.rpc])
      assert.equal(plain.code, 0, plain.stderr)
      assert.match(plain.stdout, new RegExp(`^job ${id} \\(sleep\\) done in [\\d.]+ s\\n  created: ${job.createdAt.replace(/\./g, '\\.')}\\n  coordinator: \\S+ \\(epoch [2-9]: took the job over from a failed coordinator\\)`))
    } finally {
      submit.kill()
    }
  })

  it('with one --rpc, losing the agent says how to follow the job from another member', async () => {
    const a = await startAgent({ name: 'solo-a' })
    started.push(a)
    const submit = submitInBackground(['sleep', '--input', '{"tasks":5,"ms":5000}', '--rpc', a.rpc])
    try {
      const id = await submit.acceptedId()
      a.child.kill('SIGKILL')
      assert.equal(await submit.exited, 1)
      assert.match(submit.stderr(), new RegExp(`lost the agent at .* while waiting for job ${id}.*agent job ${id} --wait --rpc HOST:PORT`))
    } finally {
      submit.kill()
    }
  })
})
