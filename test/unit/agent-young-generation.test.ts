/**
 * The agent's process keeps V8's young generation at its starting size
 * (agent/young-generation.js), unless it was started with a young-generation
 * flag of its own. Each case runs in a fresh Node process: V8 flags are
 * process-wide.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const MODULE = fileURLToPath(new URL('../../agent/young-generation.js', import.meta.url))

/** Size of the young generation (MiB) after a burst of short-lived allocations, in a process started with `nodeFlags`. */
function youngGenerationMbAfterBurst (nodeFlags: string[]): number {
  const script = `
    const { holdYoungGeneration } = await import(${JSON.stringify(MODULE)})
    const { getHeapSpaceStatistics } = await import('node:v8')
    holdYoungGeneration()
    let live = []
    for (let i = 0; i < 2e6; i++) { live.push({ i, s: String(i) }); if (live.length > 20000) live = [] }
    console.log(getHeapSpaceStatistics().find(s => s.space_name === 'new_space').space_size / 1048576)`
  return Number(execFileSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', script], { encoding: 'utf8' }).trim())
}

test('an agent process does not grow its young generation in a burst of allocation', () => {
  // held: 2 MiB (two 1-MiB semi-spaces); left to grow, 32 MiB after this burst
  assert.ok(youngGenerationMbAfterBurst([]) < 8)
})

test('a young-generation flag given to the process is kept', () => {
  assert.ok(youngGenerationMbAfterBurst(['--max-semi-space-size=8']) >= 8)
})
