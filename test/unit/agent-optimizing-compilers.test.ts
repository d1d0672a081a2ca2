/**
 * The `agent` binary holds V8's optimizing compilers off while the process is
 * idle (agent/optimizing-compilers.js) and turns them back on when it has CPU
 * work (agent/compiler-release.ts): a hot function stays unoptimized while
 * held and is optimized once released; a process started with a compiler
 * flag of its own keeps it. Each case runs in a fresh Node process: V8 flags
 * are process-wide.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { runInFreshProcess } from './fresh-process.ts'

const HOLD = fileURLToPath(new URL('../../agent/optimizing-compilers.js', import.meta.url))
const RELEASE = fileURLToPath(new URL('../../agent/compiler-release.ts', import.meta.url))
const THREADS = fileURLToPath(new URL('../../agent/task-threads.ts', import.meta.url))

/**
 * Runs `steps` (JavaScript with `hot()`, a loop that makes `f` hot, `optimized()`,
 * whether V8 optimized `f`, and the two modules' exports in scope) in a process
 * started with `nodeFlags`; returns what it printed.
 */
function run (steps: string, nodeFlags: string[] = []): string {
  const script = `
    const { holdOptimizingCompilers } = await import(${JSON.stringify(HOLD)})
    const { releaseOptimizingCompilers, releaseCompilersWhenBusy, compilersHeld } = await import(${JSON.stringify(RELEASE)})
    function f (x) { let s = 0; for (let i = 0; i < 50; i++) s = (s + x * i) % 1000003; return s }
    const hot = () => { let s = 0; for (let i = 0; i < 300000; i++) s += f(i); return s }
    // V8's optimization status: bit 16 is "optimized" (Maglev or TurboFan).
    const optimized = () => (%GetOptimizationStatus(f) & 16) !== 0
    ${steps}`
  return runInFreshProcess(script, ['--allow-natives-syntax', ...nodeFlags])
}

test('without the hold, a hot function is optimized (the check works)', () => {
  assert.equal(run('hot(); console.log(optimized())'), 'true')
})

test('held, a hot function stays unoptimized; released, it is optimized', () => {
  assert.equal(run(`
    holdOptimizingCompilers()
    hot()
    const before = optimized()
    releaseOptimizingCompilers()
    hot()
    console.log(before, optimized(), compilersHeld())`), 'false true false')
})

test('a process started with a compiler flag of its own keeps it', () => {
  assert.equal(run('holdOptimizingCompilers(); hot(); console.log(compilersHeld(), optimized())', ['--max-opt=3']), 'false true')
})

test('a process busy for a window gets the compilers back; an idle one keeps them held', () => {
  assert.equal(run(`
    holdOptimizingCompilers()
    const stop = releaseCompilersWhenBusy({ windowMs: 200, busyShare: 0.5 })
    await new Promise(resolve => setTimeout(resolve, 450))
    const idleHeld = compilersHeld()
    const end = Date.now() + 450
    while (Date.now() < end) hot()
    await new Promise(resolve => setTimeout(resolve, 50))
    stop()
    console.log(idleHeld, compilersHeld())`), 'true false')
})

test('task threads get the compilers back before they start, warmed ahead of a job or started for a task', () => {
  assert.equal(run(`
    const { ThreadPool } = await import(${JSON.stringify(THREADS)})
    holdOptimizingCompilers()
    const warmed = new ThreadPool()
    warmed.warm(1)
    const afterWarm = compilersHeld()
    await warmed.close()
    holdOptimizingCompilers()
    const pool = new ThreadPool()
    const primes = await pool.run('primes', { from: 0, to: 1000 }, 'n', new AbortController().signal)
    await pool.close()
    console.log(afterWarm, compilersHeld(), primes)`), 'false false 168')
})
