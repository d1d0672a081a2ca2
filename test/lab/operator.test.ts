/**
 * A 2|3 partition held for 2 minutes in the network lab, then healed: one
 * cluster again without restarts, and a user event fired on the minority
 * side during the partition reaches the majority side after the heal (the
 * user events' anti-entropy, agent/user-events.ts). Every agent runs a
 * `user:during` handler that appends its name and the payload to a file.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { allSee, labClusterAvailable, MAIN, NODE, REPO, RPC, startLabCluster, type LabCluster } from './lab-cluster.ts'

const avail = await labClusterAvailable()
if (!avail.ok) console.log(`# SKIP network lab: ${avail.reason}`)
const skip = avail.ok ? false : `network lab: ${avail.reason}`
const PARTITION_MS = 120_000

describe('network lab: a user event across a 2-minute partition', { skip }, () => {
  let c: LabCluster
  let dir = ''
  let file = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lab-events-'))
    file = join(dir, 'during.log')
    c = await startLabCluster(5, { extraArgs: ['--event-handler', `user:during=echo "$AGENT_SELF_NAME $(cat)" >> ${file}`] })
  })
  after(async () => {
    await c?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  it('heals into one cluster with no restart, and the event fired during it reaches every agent once', async () => {
    const minority = [c.byName('node1'), c.byName('node2')]
    const majority = [c.byName('node3'), c.byName('node4'), c.byName('node5')]
    await c.lab.partition([minority.map(a => a.node), majority.map(a => a.node)])
    await sleep(PARTITION_MS / 2)
    const sent = await c.lab.exec(minority[0].node, NODE, [MAIN, 'event', 'during', 'split', '--rpc', RPC], { cwd: REPO })
    assert.equal(sent.code, 0, sent.stderr)
    await sleep(PARTITION_MS / 2)
    const lines = async (): Promise<string[]> => existsSync(file) ? (await readFile(file, 'utf8')).split('\n').filter(l => l !== '') : []
    assert.deepEqual((await lines()).sort(), ['node1 split', 'node2 split'], 'only the minority side has it while split')

    await c.lab.heal()
    await c.waitUntil('all five see all five alive after the heal', views => allSee(views, c.agents, c.agents, 'alive'), 60_000)
    for (const a of c.agents) assert.equal(a.child.exitCode, null, `${a.name} is still the original process`)
    const deadline = Date.now() + 30_000
    while ((await lines()).length < 5 && Date.now() < deadline) await sleep(250)
    await sleep(6000) // one more anti-entropy round: nothing is delivered twice
    assert.deepEqual((await lines()).sort(), ['node1 split', 'node2 split', 'node3 split', 'node4 split', 'node5 split'])
  })
})
