/**
 * Whole-job snapshots in parts (workloads/snapshot.ts): a replica rebuilds
 * exactly the coordinator's record from them, a million-task job travels in
 * parts the transport accepts, and a replica that keeps asking for snapshots
 * gets at most one per interval.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { newJob, newTask, type Job } from '../../workloads/job.ts'
import { applyPart, SNAPSHOT_PART_BYTES, snapshotParts, startReplica } from '../../workloads/snapshot.ts'
import { builtinWorkloads, createWorkNode, fromPartial, type Peer, type TaskRecord, type WorkEffect } from '../../workloads/index.ts'
import { encodeWire, decodeWire } from '../../gossip/work-codec.ts'
import { seededRandom } from '../../membership/random.ts'

const registry = builtinWorkloads()

function sleepJob (tasks: number): Job {
  const input = { tasks, ms: 0 }
  return newJob({
    role: 'coordinator', id: 'j1', workload: 'sleep', kind: 'map', input, coordinator: 'a', epoch: 3, replicas: ['b'],
    tasks: registry.get('sleep')!.split!(input).map((t, i) => newTask(i, t)), deadlineMs: 60_000, deadlineAt: 70_000, heartbeatAt: Infinity, heardAt: 0,
    createdAt: Date.parse('2026-12-03T08:00:00Z'), startedAt: 0
  })
}

/** Sends every part through the real codec, as the transport would. */
function rebuild (job: Job, now: number): Job {
  const parts = snapshotParts(job, 10_000).map(m => decodeWire(encodeWire(m)))
  const [first, ...rest] = parts as Array<ReturnType<typeof snapshotParts>[number]>
  const replica = startReplica({ ...first, header: first.header! }, 'a', registry, now)
  for (const part of rest) {
    assert.equal(replica.assembling?.next, part.part)
    applyPart(replica, part)
    replica.assembling!.next++
  }
  return replica
}

const comparable = (t: TaskRecord): unknown => ({ ...t, round: t.state === 'pending' && t.grants === 0 ? 0 : t.round })

describe('workloads snapshot: a replica rebuilds the record from parts', () => {
  it('every state, holder, producer, value and error survives; untouched tasks are split again', () => {
    const job = sleepJob(50)
    Object.assign(job.tasks[3], { state: 'done', grants: 1, value: 1, producer: 'c', doneBy: 'nc' })
    Object.assign(job.tasks[4], { state: 'done', grants: 2, value: null, producer: 'a', doneBy: 'na' })
    Object.assign(job.tasks[7], { state: 'leased', grants: 1, holder: 'd' })
    Object.assign(job.tasks[9], { state: 'pending', grants: 1, errors: 2, lastError: 'boom' })
    Object.assign(job.tasks[11], { state: 'done', grants: 1, value: -1, producer: 'c', doneBy: 'nc' })
    job.ignored = 4
    const replica = rebuild(job, 20_000)
    assert.deepEqual(replica.tasks.map(comparable), job.tasks.map(comparable))
    assert.equal(replica.ignored, 4)
    assert.equal(replica.deadlineAt, 20_000 + 60_000, 'the replica keeps the time left, in its own clock')
    assert.equal(replica.createdAt, job.createdAt, 'the submit time travels')
    assert.equal(replica.startedAt, 20_000 - 10_000, 'the job\'s age when the snapshot was made (at 10 s), in the replica\'s clock')
    assert.equal(replica.coordinator, 'a')
    assert.equal(replica.unusable, undefined)
  })

  it('a million-task job with most tasks done travels in parts the transport accepts', () => {
    const job = sleepJob(1_000_000)
    for (let i = 0; i < 700_000; i++) Object.assign(job.tasks[i], { state: 'done', grants: 1, value: 1, producer: i % 2 === 0 ? 'c' : 'd', doneBy: i % 2 === 0 ? 'nc' : 'nd' })
    const parts = snapshotParts(job, 10_000)
    assert.ok(parts.length > 1)
    for (const p of parts) assert.ok(encodeWire(p).byteLength < 2 * SNAPSHOT_PART_BYTES, `part ${p.part} fits`)
    const replica = rebuild(job, 0)
    let done = 0
    for (const t of replica.tasks) if (t.state === 'done' && t.value === 1) done++
    assert.equal(done, 700_000)
    assert.equal(replica.tasks.length, 1_000_000)
  })

  it('a replica without the workload keeps the record and says why it cannot take it over', () => {
    const job = sleepJob(5)
    const [first] = snapshotParts(job, 0)
    const replica = startReplica({ ...first, header: { ...first.header!, workload: 'mine' } }, 'a', registry, 0)
    assert.match(replica.unusable ?? '', /workload mine is not registered/)
  })
})

describe('workloads snapshot: a replica asking again and again', () => {
  it('gets at most one snapshot per snapshotMinIntervalMs, the deferred one at the next tick', () => {
    const config = fromPartial({ slots: 2, replicas: 1, snapshotMinIntervalMs: 1000 })
    const peers: Peer[] = ['a', 'b'].map(id => ({ id, name: `n${id}`, alive: true, tags: {} }))
    const a = createWorkNode({ self: { id: 'a', name: 'na' }, config, registry, random: seededRandom(3) })
    a.members(0, peers)
    const { jobId } = a.submit(0, 'sleep', { tasks: 10, ms: 1 })
    const snapshots = (effects: WorkEffect[]): number => effects.filter(e => e.kind === 'send' && e.msg.type === 'snapshot').length
    let sent = 0
    for (let t = 10; t < 900; t += 10) sent += snapshots(a.receive(t, 'b', { type: 'resync', jobId, epoch: 1 }))
    assert.equal(sent, 0, 'the snapshot of t=0 was the last one within the interval')
    assert.ok(a.nextDeadline() <= 1000)
    assert.equal(snapshots(a.tick(1000)), 1, 'the one asked for is sent once the interval passed')
    assert.equal(snapshots(a.tick(1500)), 0)
    assert.ok(a.stats().coordinator.replicationResyncs >= 89)
  })
})

describe('workloads snapshot: parts sent one per tick, deltas in between', () => {
  it('a replica added mid-job gets the record in parts while results go on, takes the job over and counts each task once', () => {
    const config = fromPartial({ slots: 2000, replicas: 1, offerWindowTasks: 4096, offerBatchSize: 4096 })
    const registry = builtinWorkloads()
    const a = createWorkNode({ self: { id: 'a', name: 'na' }, config, registry, random: seededRandom(9) })
    const b = createWorkNode({ self: { id: 'b', name: 'nb' }, config, registry, random: seededRandom(10) })
    const alone: Peer[] = [{ id: 'a', name: 'na', alive: true, tags: {} }]
    const both: Peer[] = [...alone, { id: 'b', name: 'nb', alive: true, tags: {} }]
    let now = 0
    let parts = 0
    /** Finishes every run `node` is given, follows the effects that causes; what a sends b is delivered when `toB` is. */
    const settle = (node: typeof a, effects: WorkEffect[], toB?: WorkEffect[]): void => {
      for (let i = 0; i < effects.length; i++) {
        const e = effects[i]
        if (e.kind === 'run') effects.push(...node.taskFinished(now, e.jobId, e.index, { ok: true, value: 1 }))
        if (e.kind === 'send' && e.to === 'b' && toB != null) {
          if (e.msg.type === 'snapshot') parts++
          toB.push(e)
        }
      }
    }
    const deliver = (toB: WorkEffect[]): void => {
      for (const e of toB.splice(0)) if (e.kind === 'send') settle(b, b.receive(now, 'a', e.msg))
    }
    a.members(now, alone)
    const { jobId, effects } = a.submit(now, 'sleep', { tasks: 120_000, ms: 0 })
    settle(a, effects)
    // a runs alone until most tasks are done (a window of them per offer round)
    for (let round = 0; (a.job(jobId)?.stats.done ?? 0) < 80_000 && round < 1000; round++) {
      now += 20
      settle(a, a.tick(now))
    }
    // b joins: a makes it its replica and starts the snapshot (part 0 now, the rest a part per tick)
    const toB: WorkEffect[] = []
    settle(b, b.members(now, both))
    settle(a, a.members(now, both), toB)
    deliver(toB)
    assert.equal(b.job(jobId)?.status, 'running', 'part 0 made the record')
    assert.equal(parts, 1)
    // results go on between the parts: each tick sends a part and runs more tasks, whose deltas follow
    for (let round = 0; round < 50; round++) {
      now += 20
      settle(a, a.tick(now), toB)
      deliver(toB)
    }
    assert.ok(parts > 1, 'later parts were sent on ticks')
    assert.equal(b.job(jobId)?.stats.done, a.job(jobId)?.stats.done, 'the replica has every counted result')
    assert.equal(b.stats().coordinator.replicationResyncs, 0)
    assert.equal(a.stats().coordinator.replicationResyncs, 0, 'no part or delta was out of order')
    // a dies: b takes over and finishes, each task counted once
    settle(b, b.members(now, both.map(p => p.id === 'a' ? { ...p, alive: false } : p)))
    for (let round = 0; b.job(jobId)?.status === 'running' && round < 1000; round++) {
      now += 20
      settle(b, b.tick(now))
    }
    assert.equal(b.job(jobId)?.status, 'done')
    assert.equal(b.job(jobId)?.result, 120_000)
    assert.equal(b.job(jobId)?.epoch, 2)
  })
})
