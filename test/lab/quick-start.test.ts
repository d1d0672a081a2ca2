/**
 * examples/quick-start.sh, the README's 3-node cluster, run as written: on
 * its fixed ports (7946…, 7373…), so in a network namespace of its own where
 * nothing else can hold them.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { labAvailable } from './netlab.ts'
import { waitFor } from '../integration/harness.ts'

const run = promisify(execFile)
const REPO = fileURLToPath(new URL('../../', import.meta.url))

const avail = await labAvailable()
if (!avail.ok) console.log(`# SKIP quick start in a namespace: ${avail.reason}`)

describe('the README quick start (examples/quick-start.sh)', { skip: avail.ok ? false : `network lab: ${avail.reason}`, timeout: 180_000 }, () => {
  it('three agents list each other, run a job on all three, and one leaves', async () => {
    const ns = `qs-${process.pid}`
    await run('ip', ['netns', 'add', ns])
    try {
      await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'])
      const { stdout } = await run('ip', ['netns', 'exec', ns, 'bash', 'examples/quick-start.sh'], { cwd: REPO, timeout: 150_000, maxBuffer: 1 << 20 })
      for (const name of ['n1', 'n2', 'n3']) assert.match(stdout, new RegExp(`^${name}\\s+\\S+\\s+alive`, 'm'))
      assert.match(stdout, /\(primes\) done/)
      assert.match(stdout, /result: 148933/)
      assert.match(stdout, /leaving the cluster/)
      // The script stops what it started: no agent is left running in the namespace.
      let left = ''
      await waitFor('no process left in the namespace', async () => (left = (await run('ip', ['netns', 'pids', ns])).stdout.trim()) === '', 15_000, 250)
        .catch(() => { assert.fail(`still running in the namespace: ${left}`) })
    } finally {
      await run('ip', ['netns', 'del', ns]).catch(() => {})
    }
  })
})
