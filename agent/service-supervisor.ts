/**
 * Supervises ONE service instance from a process of its own, so that ending
 * the instance never depends on the agent's event loop: an agent that is
 * frozen past a singleton's lease, or killed with -9, cannot stop its child,
 * but this small process still can. Run as `node service-supervisor.ts SPEC`
 * by agent/service-instance.ts; it imports nothing from the repository, so it
 * loads fast and runs the same from a checkout, dist/ or beside a bundle.
 *
 * SPEC (argv[2], JSON): `{ command: string[], env: {..}, killAt: number | null }`.
 * stdin, one JSON object a line:
 *   `{"killAt": ms | null}`  moves the hard deadline (null: none);
 *   `{"stop": graceMs}`      SIGTERM to the instance's group, SIGKILL after graceMs.
 * fd 3, one JSON object a line: `{"pid": n}`, then `{"exit": {code, signal}}`;
 * or `{"error": "..."}` when the command could not start.
 *
 * The instance runs in a process group of its own (detached) and every signal
 * goes to the whole group, so what it forks ends with it. When the instance's
 * own process ends, whatever is left of its group is killed too: a service is
 * its process group, and a forked helper left running would be a copy nobody
 * tracks (for a singleton, a second one). `killAt` is on CLOCK_MONOTONIC,
 * which every process of the machine shares, so the agent can compute it.
 *
 * What this cannot survive is its own SIGKILL (Node has no PR_SET_PDEATHSIG);
 * the agent then kills the group itself when it sees this process die.
 */
import { spawn } from 'node:child_process'
import { writeSync } from 'node:fs'

interface Spec { command: string[], env: Record<string, string>, killAt: number | null }

/** setTimeout takes a 32-bit delay: a farther deadline is checked again when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1
/** After SIGKILL the child's exit normally arrives at once; this bounds the wait if it never does. */
const EXIT_WAIT_MS = 2000

const monotonicNowMs = (): number => Number(process.hrtime.bigint() / 1000000n)

/** Status to the agent. Synchronous, so that a line written just before process.exit is not lost. */
function report (msg: unknown): void {
  try {
    writeSync(3, JSON.stringify(msg) + '\n')
  } catch {
    // the agent is gone (EPIPE) or started us without fd 3: nobody to tell
  }
}

let spec: Spec
try {
  spec = JSON.parse(process.argv[2] ?? '') as Spec
  if (!Array.isArray(spec.command) || spec.command.length === 0) throw new Error('command must be a non-empty array')
} catch (err) {
  report({ error: `bad supervisor spec: ${(err as Error).message}` })
  process.exit(1)
}

if (spec.killAt != null && monotonicNowMs() >= spec.killAt) {
  // the agent was held up between deciding and starting: a start past its deadline must not run at all
  report({ error: 'deadline passed before the start' })
  process.exit(1)
}

// before the spawn: told to end at any moment from now on, this process takes the instance with it
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => { killNow() })

const child = spawn(spec.command[0], spec.command.slice(1), {
  detached: true,
  env: { ...process.env, ...spec.env },
  stdio: ['ignore', 'inherit', 'inherit']
})
const pid = child.pid
let deadlineTimer: ReturnType<typeof setTimeout> | undefined
let graceTimer: ReturnType<typeof setTimeout> | undefined
let graceAt = Infinity

/** Signals the instance's whole process group; a group already gone (ESRCH) is fine. */
function signalGroup (signal: NodeJS.Signals): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, signal)
  } catch {
    // the group is gone
  }
}

/** SIGKILL now, then leave once the exit is reported (or after EXIT_WAIT_MS if it never comes). */
function killNow (): void {
  signalGroup('SIGKILL')
  setTimeout(() => { process.exit(0) }, EXIT_WAIT_MS)
}

function armDeadline (killAt: number | null): void {
  clearTimeout(deadlineTimer)
  deadlineTimer = undefined
  if (killAt == null) return
  const check = (): void => {
    const left = killAt - monotonicNowMs()
    if (left <= 0) killNow()
    else deadlineTimer = setTimeout(check, Math.min(left, MAX_TIMER_MS))
  }
  check()
}

function stop (graceMs: number): void {
  signalGroup('SIGTERM')
  const at = monotonicNowMs() + Math.max(0, graceMs)
  if (at >= graceAt) return // an earlier stop's SIGKILL comes sooner
  graceAt = at
  clearTimeout(graceTimer)
  graceTimer = setTimeout(() => { signalGroup('SIGKILL') }, Math.max(0, graceMs))
}

function control (line: string): void {
  let msg: { killAt?: unknown, stop?: unknown }
  try {
    msg = JSON.parse(line)
  } catch {
    return // not ours: the agent writes only JSON lines
  }
  if (msg == null || typeof msg !== 'object') return
  if ('killAt' in msg && (msg.killAt === null || typeof msg.killAt === 'number')) armDeadline(msg.killAt)
  if (typeof msg.stop === 'number') stop(msg.stop)
}

child.on('error', (err) => {
  // before spawning (ENOENT, EACCES): nothing runs; later errors are failed kills of a group already gone
  if (pid !== undefined) return
  report({ error: err.message })
  process.exit(1)
})

child.on('exit', (code, signal) => {
  signalGroup('SIGKILL') // what the instance forked ends with it
  report({ exit: { code, signal } })
  process.exit(0)
})

if (pid !== undefined) {
  let pending = ''
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (chunk: string) => {
    pending += chunk
    let nl: number
    while ((nl = pending.indexOf('\n')) >= 0) {
      control(pending.slice(0, nl))
      pending = pending.slice(nl + 1)
    }
  })
  // the agent's end of stdin closes only when the agent is gone (crash, kill -9): nobody will stop the instance
  process.stdin.on('end', killNow)
  process.stdin.on('error', killNow)
  armDeadline(spec.killAt)
  // last: whoever learns the pid may act on it at once
  report({ pid })
}
