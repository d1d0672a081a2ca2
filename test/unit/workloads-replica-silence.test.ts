/**
 * Records that nothing updates any more must still end: a replica that lost
 * its job's end asks its coordinator after a silence, and a coordinator that
 * slept through its own takeover (frozen, cut off) hears who speaks for the
 * job now as soon as it replicates again; and an end is final, whatever a
 * replica cut off from it took over. The randomised simulation found each
 * of them (docs/simulation.md).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { builtinWorkloads, createWorkNode, fromPartial, type WorkEffect, type WorkMessage, type WorkNode } from '../../workloads/index.ts'
import { seededRandom } from '../../membership/random.ts'

const HEARTBEAT_MS = 1000

/** Work nodes (p and r unless `ids` says more) wired by a queue; `drop` decides what the network loses; a task run finishes at once on the nodes `finishes` names, never on the others. */
function pair (drop: (from: string, to: string, msg: WorkMessage) => boolean, ids = ['p', 'r'], finishes: (id: string) => boolean = () => false) {
  const config = fromPartial({ slots: 2, replicationHeartbeatMs: HEARTBEAT_MS, snapshotMinIntervalMs: 100 })
  const registry = builtinWorkloads()
  const nodes: Record<string, WorkNode> = Object.fromEntries(ids.map((id, i) =>
    [id, createWorkNode({ self: { id, name: id }, config, registry, random: seededRandom(i + 1) })]))
  const queue: Array<() => void> = []
  const sent: Array<{ from: string, to: string, type: string }> = []
  let now = 0
  const perform = (id: string, effects: WorkEffect[]): void => {
    for (const e of effects) {
      if (e.kind === 'run' && finishes(id)) queue.push(() => { perform(id, nodes[id].taskFinished(now, e.jobId, e.index, { ok: true, value: 1 })) })
      if (e.kind !== 'send' && e.kind !== 'publish') continue
      for (const to of e.kind === 'send' ? [e.to] : Object.keys(nodes).filter(o => o !== id)) {
        sent.push({ from: id, to, type: e.msg.type })
        if (drop(id, to, e.msg)) continue
        const msg = structuredClone(e.msg)
        queue.push(() => { perform(to, nodes[to].receive(now, id, msg)) })
      }
    }
  }
  const view = (alive: Record<string, boolean>) => Object.keys(nodes).map(id => ({ id, name: id, alive: alive[id] ?? true, tags: {} }))
  return {
    nodes,
    sent,
    now: () => now,
    perform,
    members (id: string, alive: Record<string, boolean>) { perform(id, nodes[id].members(now, view(alive))) },
    /** p submits the tests' job (4 sleeping tasks), then the network runs `ms`; returns its id. */
    submit (ms: number): string {
      const { jobId, effects } = nodes.p.submit(now, 'sleep', { tasks: 4, ms: 60_000 })
      perform('p', effects)
      this.run(ms)
      return jobId
    },
    /** Runs every node's timers and the network for `ms` in 10 ms steps (`only`: the nodes that run). */
    run (ms: number, only = Object.keys(nodes)) {
      for (const end = now + ms; now < end;) {
        while (queue.length > 0) queue.shift()!()
        now += 10
        for (const id of only) perform(id, nodes[id].tick(now))
      }
      while (queue.length > 0) queue.shift()!()
    }
  }
}

describe('workloads: records that nothing updates any more', () => {
  it('a replica that lost the job-end and the last delta asks after a silence and ends its record', () => {
    let ended = false
    let endsLost = 0
    // once the job ends, the replica loses the coordinator's last delta and its published job-end
    const net = pair((_from, to, msg) => ended && to === 'r' && (msg.type === 'replicate' || (msg.type === 'job-end' && ++endsLost === 1)))
    for (const id of ['p', 'r']) net.members(id, {})
    const jobId = net.submit(5 * HEARTBEAT_MS)
    assert.equal(net.nodes.r.job(jobId)?.status, 'running', 'the replica follows the running job')
    const asksWhileRunning = net.sent.filter(m => m.type === 'resync').length
    assert.equal(asksWhileRunning, 0, 'the coordinator\'s heartbeats keep a replica that hears them from asking')

    ended = true
    net.perform('p', net.nodes.p.cancel(net.now(), jobId)!)
    net.run(2 * HEARTBEAT_MS)
    assert.equal(net.nodes.r.job(jobId)?.status, 'running', 'the end was lost on its way to the replica')
    net.run(3 * HEARTBEAT_MS)
    const replica = net.nodes.r.job(jobId)!
    assert.equal(replica.status, 'cancelled', 'the replica asked again and took the end it was sent')
    const asks = net.sent.filter(m => m.type === 'resync' && m.from === 'r').length
    assert.ok(asks >= 1 && asks <= 2, `asked ${asks} times, once per heartbeat at most`)
    net.run(10 * HEARTBEAT_MS)
    assert.equal(net.sent.filter(m => m.type === 'resync').length, asks, 'an ended record asks no more')
  })

  it('a coordinator that slept through its takeover steps down and takes the new coordinator\'s end', () => {
    let frozen = false
    const net = pair((from, to) => frozen && (from === 'p' || to === 'p'))
    for (const id of ['p', 'r']) net.members(id, {})
    const jobId = net.submit(2 * HEARTBEAT_MS)

    // p freezes: r's failure detector declares it failed, r takes the job over and ends it
    frozen = true
    net.members('r', { p: false })
    assert.equal(net.nodes.r.job(jobId)?.coordinator, 'r', 'the replica took the job over')
    net.perform('r', net.nodes.r.cancel(net.now(), jobId)!)
    net.run(2 * HEARTBEAT_MS, ['r'])
    assert.equal(net.nodes.p.job(jobId)?.status, 'running', 'p heard nothing of it')

    // p resumes: it refutes, both see each other alive, and p's next delta meets r's answer
    frozen = false
    net.members('r', {})
    net.run(2 * HEARTBEAT_MS)
    const old = net.nodes.p.job(jobId)!
    assert.equal(old.coordinator, 'r', 'p stepped down for r')
    assert.equal(old.status, 'cancelled', 'p took the end from the member that took over')
    assert.equal(net.nodes.p.stats().coordinator.forged['job-end'] ?? 0, 0, 'nothing was counted as forged')
  })

  it('a job that ended is not revived by a replica that took it over from the other side of a partition', () => {
    let cut = false
    const net = pair((from, to) => cut && (from === 'r' || to === 'r'))
    for (const id of ['p', 'r']) net.members(id, {})
    const jobId = net.submit(2 * HEARTBEAT_MS)

    // r is cut off: p ends the job; r's failure detector fails p and r takes the job over
    cut = true
    net.members('p', { r: false })
    net.perform('p', net.nodes.p.cancel(net.now(), jobId)!)
    net.members('r', { p: false })
    assert.equal(net.nodes.r.job(jobId)?.coordinator, 'r', 'the replica took the job over')
    assert.equal(net.nodes.r.job(jobId)?.status, 'running')
    net.run(2 * HEARTBEAT_MS)

    // the partition heals: the end wins over the takeover
    cut = false
    net.members('p', {})
    net.members('r', {})
    net.run(5 * HEARTBEAT_MS)
    assert.equal(net.nodes.p.job(jobId)?.status, 'cancelled', 'the member that ended the job keeps its end')
    assert.equal(net.nodes.p.job(jobId)?.coordinator, 'p')
    assert.equal(net.nodes.r.job(jobId)?.status, 'cancelled', 'the void takeover ends with the job\'s end')
  })

  it('the void takeover relays the end with the end\'s own counts, not its own record\'s', () => {
    let cut = false
    const ends: WorkMessage[] = []
    const net = pair((from, to, msg) => {
      if (from === 'r' && msg.type === 'job-end') ends.push(msg)
      return cut && (from === 'r' || to === 'r')
    }, ['p', 'r'], id => id === 'p')
    for (const id of ['p', 'r']) net.members(id, {})
    const jobId = net.submit(2 * HEARTBEAT_MS)

    // r is cut off and takes the job over with p's tasks done, its own not; p re-runs r's and ends the job done
    cut = true
    net.members('r', { p: false })
    net.members('p', { r: false })
    net.run(10 * HEARTBEAT_MS)
    assert.equal(net.nodes.p.job(jobId)?.status, 'done')
    assert.equal(net.nodes.r.job(jobId)?.coordinator, 'r', 'the replica took the job over')
    assert.ok(net.nodes.r.job(jobId)!.stats.done < 4, 'r\'s record is behind the end')

    cut = false
    net.members('p', {})
    net.members('r', {})
    net.run(5 * HEARTBEAT_MS)
    const relayed = ends.map(m => m.type === 'job-end' ? m.job : undefined).find(j => j?.id === jobId)
    assert.ok(relayed != null, 'r ended the void takeover with the job\'s end')
    assert.equal(relayed.result, 4)
    assert.equal(relayed.stats.done, 4, 'the end\'s count of tasks done')
    assert.deepEqual(relayed.stats.perNode, { p: 4 }, 'where they ran, as the end says')
  })

  it('a replica the coordinator replaced while it was cut off lets its record go', () => {
    let cut = false
    const net = pair((from, to) => cut && (from === 'r' || to === 'r'), ['p', 'r', 'q'])
    for (const id of ['p', 'r', 'q']) net.members(id, { q: false })
    const jobId = net.submit(2 * HEARTBEAT_MS)
    assert.equal(net.nodes.r.job(jobId)?.status, 'running', 'r replicates the job')

    // r is cut off and failed in p's view: p names q instead; r, cut off, keeps its record
    cut = true
    net.members('p', { r: false })
    net.members('q', { r: false })
    net.run(2 * HEARTBEAT_MS)
    assert.equal(net.nodes.q.job(jobId)?.status, 'running', 'q is the new replica')
    assert.equal(net.nodes.r.job(jobId)?.status, 'running')

    // the cut heals: r, hearing nothing, asks p, which tells it the replicas it has now
    cut = false
    for (const id of ['p', 'r', 'q']) net.members(id, {})
    net.run(5 * HEARTBEAT_MS)
    assert.equal(net.nodes.r.job(jobId), undefined, 'r let its record go')
    assert.equal(net.nodes.q.job(jobId)?.status, 'running', 'q still replicates the job')
  })
})
