/**
 * Fifty real agents launched at once (the start storm: every process loading
 * and handshaking on the same few cores), all joining the first. Untimed: the
 * bound is generous and only there so that a hang fails; `npm run
 * bench:scale` measures how long it takes. What must hold is that every
 * agent ends up listing all fifty alive, and that no agent marks a running
 * member failed on the way or in the seconds after.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { ClusterViews } from '../../bench/views.ts'
import { freePort, killAll, startAllAtOnce, waitFor, type AgentProcess } from './harness.ts'

const N = 50
/** Launch to full views, and each process to print its address: a hang, not a slow start. */
const BOUND_MS = 240_000
const SETTLE_MS = 5000

// Minutes of a 2-core machine at full load, and the source of CI flakes while
// the start storm is being fixed: run by `npm run test:scale`, not `npm test`.
const skip = process.env.AGENT_SCALE_TEST !== '1' && 'set AGENT_SCALE_TEST=1 (npm run test:scale) to run it'

describe(`${N} agents launched at once`, { skip }, () => {
  const agents: AgentProcess[] = []
  const views = new ClusterViews(N)
  after(async () => {
    views.close()
    await killAll(agents)
  })

  it('every agent lists all of them alive, and none is ever marked failed', { timeout: BOUND_MS + 60_000 }, async () => {
    const seed = `/ip4/127.0.0.1/tcp/${await freePort()}`
    const launches = Array.from({ length: N }, (_, i) => i === 0
      ? { name: 'm1', listen: [seed, '/ip4/127.0.0.1/tcp/0/ws'], startTimeoutMs: BOUND_MS }
      : { name: `m${i + 1}`, join: [seed], startTimeoutMs: BOUND_MS })
    const t0 = performance.now()
    await startAllAtOnce(launches, agents, async a => await views.watch(a))
    await waitFor(`all ${N} views full`, async () => views.fullAt != null, Math.max(1000, t0 + BOUND_MS - performance.now()), 100)
      .catch(err => {
        const counts = views.aliveCounts()
        throw new Error(`${(err as Error).message}: ${views.fullCount} of ${N} full; members alive per view ${counts[0]}–${counts[counts.length - 1]}; ` +
          `${views.falseFailures(new Set(), t0).length} failed marks so far`)
      })
    // A suspicion raised during the storm may still time out into a failure just after.
    await sleep(SETTLE_MS)
    assert.equal(views.fullCount, N, `${views.fullCount} of ${N} views still full ${SETTLE_MS} ms later`)
    assert.deepEqual(views.errors, [], 'every event stream stayed open')
    const failed = views.falseFailures(new Set(), t0)
    const names = new Map(agents.map(a => [a.peerId, a.name]))
    assert.deepEqual(failed.map(e => `${e.observer} marked ${names.get(e.peerId) ?? e.peerId} failed`), [])
  })
})
