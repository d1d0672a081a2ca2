/**
 * The `agent` binary gives back what a burst of work left in memory once it is
 * idle again (agent/memory-trim.ts): the bytecode of functions that do not run
 * any more goes, the functions keep working, and V8's flags are the process's
 * own afterwards (a code cache taken before is still accepted). The trims come
 * at the first idle window after each stretch of work, never before the code
 * cache is taken. The collector cases run in a fresh Node process: V8 flags
 * are process-wide.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { IdleTrimSchedule, START_CAP_MS } from '../../agent/memory-trim.ts'
import { runInFreshProcess } from './fresh-process.ts'

const TRIM = fileURLToPath(new URL('../../agent/memory-trim.ts', import.meta.url))

/**
 * Runs `steps` in a fresh process and returns what it printed. In scope: v8,
 * vm, the module's exports, `bytecode()` (the bytes of V8's trusted space,
 * where bytecode lives), `gc` (taken as the trim takes one) and `loadCode()`
 * (three thousand functions with bodies of some size, each called once and
 * kept; returns them).
 */
function run (steps: string, nodeFlags: string[] = [], env: Record<string, string> = {}): string {
  const script = `
    import * as v8 from 'node:v8'
    import * as vm from 'node:vm'
    const { trimMemoryNow, trimMemoryWhenIdle } = await import(${JSON.stringify(TRIM)})
    const trusted = v8.getHeapSpaceStatistics().find(s => s.space_name === 'trusted_space')
    if (trusted == null) throw new Error('this V8 has no trusted space: the test reads bytecode there')
    const bytecode = () => v8.getHeapSpaceStatistics().find(s => s.space_name === 'trusted_space').space_used_size
    const gc = process.execArgv.includes('--expose-gc') ? globalThis.gc : (() => { v8.setFlagsFromString('--expose-gc'); const f = vm.runInNewContext('gc'); v8.setFlagsFromString('--no-expose-gc'); return f })()
    const loadCode = () => Array.from({ length: 3000 }, (_, i) => new Function('x', Array.from({ length: 20 }, (_, j) => 'x = (x * ' + (i + j + 3) + ' + ' + j + ') % 1000003;').join('') + 'return x'))
    ${steps}`
  return runInFreshProcess(script, nodeFlags, env)
}

test('memory trim: the bytecode of functions that ran once goes, and they still work', () => {
  const out = run(`
    gc(); const before = bytecode()
    const fns = loadCode()
    const first = fns.map(f => f(7))
    gc(); const loaded = bytecode()
    const trimmed = trimMemoryNow()
    const after = bytecode()
    const again = fns.map(f => f(7))
    console.log(JSON.stringify({ trimmed, share: (loaded - after) / (loaded - before), same: again.every((v, i) => v === first[i]) }))`)
  const { trimmed, share, same } = JSON.parse(out) as { trimmed: boolean, share: number, same: boolean }
  assert.equal(trimmed, true)
  // A full collection alone gives back about none of it (they ran one collection ago, V8 waits for six).
  assert.ok(share > 0.9, `the trim gave back ${(share * 100).toFixed(0)} % of the functions' bytecode`)
  assert.equal(same, true, 'the functions compute the same after their bytecode went')
})

test("memory trim: V8 flags are the process's own afterwards (no gc in new contexts, a code cache still accepted)", () => {
  const out = run(`
    const source = 'function add (a, b) { return a + b }; add(1, 2)'
    const script = new vm.Script(source)
    script.runInThisContext()
    const cachedData = script.createCachedData()
    const trimmed = trimMemoryNow()
    const rejected = new vm.Script(source, { cachedData }).cachedDataRejected
    console.log(trimmed, vm.runInNewContext('typeof gc'), rejected)`)
  assert.equal(out, 'true undefined false')
})

test('memory trim: a process started with a flag the trim would reset is left alone', () => {
  assert.equal(run("gc(); const fns = loadCode(); fns.map(f => f(7)); gc(); const loaded = bytecode(); console.log(trimMemoryNow(), bytecode() > loaded * 0.9, vm.runInNewContext('typeof gc'))", ['--expose-gc']), 'false true function')
})

test('memory trim: the watch trims once the process is idle and not before its time, and not at all with AGENT_MEMORY_TRIM=off', () => {
  // Not before 400 ms (the eighth window of 50 ms): nothing flushed at 200 ms; then waited for (at most 10 s, or 1 s when off).
  const steps = (waitMs: number): string => `
    const fns = loadCode(); fns.map(f => f(7)); gc(); const loaded = bytecode()
    const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
    trimMemoryWhenIdle({ windowMs: 50, notBeforeMs: 400 })
    await sleep(200)
    const early = bytecode() < loaded / 2
    let flushed = false
    for (let waited = 0; waited < ${waitMs} && !flushed; waited += 50) { await sleep(50); flushed = bytecode() < loaded / 2 }
    console.log(early, flushed)`
  assert.equal(run(steps(10_000)), 'false true')
  assert.equal(run(steps(1000), [], { AGENT_MEMORY_TRIM: 'off' }), 'false false')
})

test('memory trim: once after each stretch of work, at its first idle window, never before the code cache is taken', () => {
  const schedule = new IdleTrimSchedule(0.05, 30_000)
  // [CPU share of the window, ms since the start, trim?]
  const windows: Array<[number, number, boolean]> = [
    [0.02, 10_000, false], // idle, but the code cache is not taken yet
    [0.01, 20_000, false],
    [0.01, 30_000, true], // the start was work: the first idle window after it trims
    [0.003, 40_000, false], // still idle: nothing new to give back
    [0.003, 50_000, false],
    [0.6, 60_000, false], // a job
    [0.3, 70_000, false],
    [0.01, 80_000, true], // idle again after it
    [0.01, 90_000, false]
  ]
  for (const [share, at, trim] of windows) assert.equal(schedule.window(share, at), trim, `window at ${at} ms with ${share} of a core`)
})

test('memory trim: an agent busy past the cache time trims when it goes idle', () => {
  const schedule = new IdleTrimSchedule(0.05, 30_000)
  assert.deepEqual([0.9, 0.9, 0.9, 0.9, 0.01, 0.01].map((share, i) => schedule.window(share, (i + 1) * 10_000)), [false, false, false, false, true, false])
})

test('memory trim: in a start storm the start lasts until the view is quiet; after the first trim only CPU counts', () => {
  const schedule = new IdleTrimSchedule(0.05, 30_000)
  // [CPU share, ms since the start, view quiet over the window, trim?]
  const windows: Array<[number, number, boolean, boolean]> = [
    [0.02, 10_000, false, false], // starved, still joining
    [0.02, 20_000, false, false],
    [0.02, 30_000, false, false], // past the code cache, but members still arrive
    [0.02, 40_000, false, false],
    [0.004, 50_000, true, true], // every member known: the start is over
    [0.003, 60_000, false, false], // a member comes or goes later: no trim for that
    [0.003, 70_000, true, false]
  ]
  for (const [share, at, quiet, trim] of windows) assert.equal(schedule.window(share, at, quiet), trim, `window at ${at} ms, view ${quiet ? 'quiet' : 'changing'}`)
})

test('memory trim: joins hold the first trim off for at most START_CAP_MS', () => {
  const schedule = new IdleTrimSchedule(0.05, 30_000)
  let trimmedAt: number | undefined
  for (let at = 10_000; at <= START_CAP_MS + 30_000 && trimmedAt == null; at += 10_000) {
    if (schedule.window(0.01, at, false)) trimmedAt = at
  }
  assert.equal(trimmedAt, START_CAP_MS)
})
