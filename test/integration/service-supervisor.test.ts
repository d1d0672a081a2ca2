/**
 * Service instances under their supervisor (agent/service-supervisor.ts via
 * agent/service-instance.ts), with real processes: pid and output reach the
 * agent, stop() is SIGTERM then SIGKILL after the grace, a passed deadline
 * kills the instance's whole process group, and an agent killed with -9
 * leaves no instance behind.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SupervisedInstance, monotonicNowMs, type InstanceEnd } from '../../agent/service-instance.ts'

/** Bounds every wait below: far above what each step takes, so that a hang fails instead of stalling the run. */
const WAIT_MS = 10_000

/** Process groups and pids to kill in `after`, whatever a failed test left. */
const leftovers: number[] = []

/** State and process group of `pid` from /proc (Linux), undefined where there is none. */
function procStat (pid: number | string): { state: string, ppid: number, pgrp: number } | undefined {
  try {
    const [state, ppid, pgrp] = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
    return { state, ppid: Number(ppid), pgrp: Number(pgrp) }
  } catch {
    return undefined
  }
}

/**
 * A process that no longer runs. A zombie has ended too: reaping it is its
 * parent's job (init's, for what the instance forked), not the supervisor's,
 * and some inits reap only now and then.
 */
function gone (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return true
  }
  return procStat(pid)?.state === 'Z'
}

/** No process left running in the group led by `pid`. */
function groupGone (pid: number): boolean {
  try {
    process.kill(-pid, 0)
  } catch {
    return true
  }
  let entries: string[]
  try {
    entries = readdirSync('/proc').filter(e => /^\d+$/.test(e))
  } catch {
    return false // no /proc: the group still has a member, zombie or not
  }
  return !entries.some(e => { const st = procStat(e); return st !== undefined && st.pgrp === pid && st.state !== 'Z' })
}

async function waitUntil (what: string, done: () => boolean, ms = WAIT_MS): Promise<void> {
  const until = performance.now() + ms
  while (!done()) {
    if (performance.now() > until) throw new Error(`not within ${ms} ms: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

interface Run {
  instance: SupervisedInstance
  started: Promise<number>
  ended: Promise<InstanceEnd>
  output: () => string
}

/** Starts `command`; `started` rejects if it ends without starting, so that no test waits for a start that will not come. */
function run (command: string[], killAt: number | null = null, stopGraceMs = 300): Run {
  let out = ''
  let started!: (pid: number) => void
  let notStarted!: (err: Error) => void
  let ended!: (end: InstanceEnd) => void
  const handles = {
    started: new Promise<number>((resolve, reject) => { started = resolve; notStarted = reject }),
    ended: new Promise<InstanceEnd>(resolve => { ended = resolve }),
    output: () => out
  }
  handles.started.catch(() => {}) // a test that does not wait for the start still sees the end
  const instance = new SupervisedInstance({ command, env: { SERVICE_TEST: 'yes' }, stopGraceMs }, {
    started: (pid) => { leftovers.push(-pid); started(pid) },
    exited: (end) => { notStarted(new Error(`ended before starting: ${JSON.stringify(end)}`)); ended(end) },
    output: (stream, text) => { out += `${stream}:${text}` }
  })
  instance.start(killAt)
  return { instance, ...handles }
}

describe('service supervisor: one instance in its own process group', () => {
  const dirs: string[] = []
  after(async () => {
    for (const target of leftovers) {
      try { process.kill(target, 'SIGKILL') } catch { /* gone, as it should be */ }
    }
    await Promise.all(dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
  })

  it('reports the pid, then the output of both streams with the given env, then the exit code', async () => {
    const r = run(['sh', '-c', 'echo "out $SERVICE_TEST"; echo err >&2; exit 3'])
    assert.ok(await r.started > 0)
    assert.deepEqual(await r.ended, { code: 3, signal: null })
    assert.match(r.output(), /stdout:out yes\n/)
    assert.match(r.output(), /stderr:err\n/)
  })

  it('reports a command that cannot start, exactly once', async () => {
    let calls = 0
    let starts = 0
    const end = await new Promise<InstanceEnd>((resolve) => {
      new SupervisedInstance({ command: ['/no/such/program'], env: {}, stopGraceMs: 100 }, {
        started: () => { starts++ },
        exited: (e) => { calls++; resolve(e) },
        output: () => {}
      }).start(null)
    })
    assert.equal(end.code, null)
    assert.match(end.error ?? '', /ENOENT/)
    await new Promise(resolve => setTimeout(resolve, 100)) // room for a wrong second call
    assert.equal(calls, 1)
    assert.equal(starts, 0)
  })

  it('refuses a start whose deadline has already passed', async () => {
    const r = run(['sleep', '100'], monotonicNowMs() - 1)
    assert.deepEqual(await r.ended, { code: null, signal: null, error: 'deadline passed before the start' })
    await assert.rejects(r.started)
  })

  it('stop() sends SIGTERM, which a well-behaved instance answers by exiting', async () => {
    const r = run(['sh', '-c', 'trap "echo got TERM; exit 0" TERM; echo ready; while :; do sleep 0.05; done'], null, 5000)
    await waitUntil('ready', () => r.output().includes('ready'))
    const started = performance.now()
    await r.instance.stop()
    assert.deepEqual(await r.ended, { code: 0, signal: null })
    assert.match(r.output(), /got TERM/)
    assert.ok(performance.now() - started < 4000, 'ended by SIGTERM, long before the grace')
  })

  it('stop() SIGKILLs an instance that ignores SIGTERM once the grace is over', async () => {
    const r = run(['sh', '-c', 'trap "" TERM; echo ready; sleep 100'], null, 300)
    const pid = await r.started
    await waitUntil('ready', () => r.output().includes('ready'))
    const started = performance.now()
    await r.instance.stop()
    const took = performance.now() - started
    assert.deepEqual(await r.ended, { code: null, signal: 'SIGKILL' })
    assert.ok(took >= 250, `killed after the grace, not before (${took} ms)`)
    await waitUntil('the group gone', () => groupGone(pid))
    await r.instance.stop() // already ended: resolves at once
  })

  it('a deadline that passes kills the whole group, what the instance forked included; extend() moves it later', async () => {
    // the first deadline leaves the supervisor time to boot on a loaded machine: a start past its deadline is refused
    const start = monotonicNowMs()
    const r = run(['sh', '-c', 'sleep 100 & echo "child $!"; sleep 100'], start + 1000)
    const pid = await r.started
    r.instance.extend(start + 1500)
    await waitUntil('the forked pid', () => /child \d+/.test(r.output()))
    const grandchild = Number(/child (\d+)/.exec(r.output())?.[1])
    leftovers.push(grandchild)
    assert.deepEqual(await r.ended, { code: null, signal: 'SIGKILL' })
    assert.ok(monotonicNowMs() - start >= 1500, 'not before the extended deadline')
    await waitUntil('instance and forked child gone', () => gone(pid) && gone(grandchild) && groupGone(pid))
  })

  it('a supervisor told to end kills its instance first; one killed with -9 is reported and the agent kills the instance', async (t) => {
    for (const [signal, expected] of [
      ['SIGTERM', { code: null, signal: 'SIGKILL' }],
      ['SIGKILL', { code: null, signal: 'SIGKILL', error: 'service supervisor killed by SIGKILL' }]
    ] as const) {
      const r = run(['sleep', '100'])
      const pid = await r.started
      const supervisor = procStat(pid)?.ppid
      if (supervisor === undefined) {
        t.skip('no /proc to find the supervisor by')
        return
      }
      process.kill(supervisor, signal)
      assert.deepEqual(await r.ended, expected, signal)
      await waitUntil(`the instance gone after ${signal}`, () => gone(pid))
    }
  })

  it('an agent killed with -9 leaves no instance behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'service-supervisor-'))
    dirs.push(dir)
    const agent = join(dir, 'agent.mjs')
    await writeFile(agent, [
      `import { SupervisedInstance } from ${JSON.stringify(new URL('../../agent/service-instance.ts', import.meta.url).href)}`,
      'new SupervisedInstance({ command: ["sleep", "100"], env: {}, stopGraceMs: 1000 }, {',
      '  started: (pid) => { console.log(`pid ${pid}`) }, exited: () => {}, output: () => {}',
      '}).start(null)'
    ].join('\n'))
    const proc = spawn(process.execPath, ['--no-warnings', agent], { stdio: ['ignore', 'pipe', 'inherit'] })
    leftovers.push(proc.pid as number)
    let out = ''
    proc.stdout.setEncoding('utf8').on('data', (text: string) => { out += text })
    await waitUntil('the instance pid', () => /pid \d+/.test(out))
    const sleep = Number(/pid (\d+)/.exec(out)?.[1])
    leftovers.push(-sleep)
    assert.equal(gone(sleep), false)
    proc.kill('SIGKILL')
    await waitUntil('the instance ended after its agent', () => gone(sleep), 1500)
  })
})
