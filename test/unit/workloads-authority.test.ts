/**
 * Who may speak for a job (workloads/authority.ts): the pure rule as a table,
 * then forgeries fed to real work cores — takeovers, job ends, replication
 * and grants from members without that role are refused and counted, and a
 * takeover the receiver's failure detector has not confirmed waits for it.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { judge } from '../../workloads/authority.ts'
import { builtinWorkloads, createWorkNode, fromPartial, type Peer, type WorkEffect, type WorkMessage, type WorkNode } from '../../workloads/index.ts'
import { seededRandom } from '../../membership/random.ts'

describe('workloads authority: judge (table)', () => {
  const known = { coordinator: 'c', epoch: 2, replicas: ['r1', 'r2'] }
  const table: Array<[string, string, number, boolean, boolean, string, boolean?]> = [
    // what, from, epoch, coordinatorAlive, selfIsCoordinator, verdict, knownReplicaAlive (a worker's)
    ['the coordinator at its epoch', 'c', 2, true, false, 'accept'],
    ['the coordinator at a later epoch', 'c', 3, true, false, 'accept'],
    ['anyone at an older epoch (an old coordinator not yet told)', 'x', 1, true, false, 'stale'],
    ['a replica at the same epoch', 'r1', 2, false, false, 'forged'],
    ['a stranger at a higher epoch', 'x', 3, false, false, 'forged'],
    ['a replica at a higher epoch, coordinator failed here', 'r2', 3, false, false, 'accept'],
    ['a replica at a higher epoch, coordinator still alive here', 'r1', 3, true, false, 'wait'],
    ['a replica at a higher epoch, to the coordinator itself', 'r1', 3, true, true, 'accept'],
    ['a stranger at a higher epoch, to the coordinator itself', 'x', 3, true, true, 'forged'],
    ['to a worker: a stranger at a higher epoch, a known replica alive', 'x', 3, false, false, 'forged', true],
    ['to a worker: a stranger at a higher epoch, coordinator and known replicas failed (its list is out of date)', 'x', 3, false, false, 'accept', false],
    ['to a worker: a stranger at a higher epoch, known replicas failed, coordinator still alive here', 'x', 3, true, false, 'wait', false],
    ['to a worker: a stranger at the same epoch, coordinator and known replicas failed', 'x', 2, false, false, 'forged', false]
  ]
  for (const [what, from, epoch, coordinatorAlive, selfIsCoordinator, verdict, knownReplicaAlive] of table) {
    it(`${what} → ${verdict}`, () => {
      assert.equal(judge(known, from, epoch, { coordinatorAlive, selfIsCoordinator, knownReplicaAlive }), verdict)
    })
  }
})

const config = fromPartial({ slots: 2, replicas: 1 })
const peer = (id: string, alive = true): Peer => ({ id, name: `n${id}`, alive, tags: {} })

function node (id: string, peers: Peer[]): WorkNode {
  const n = createWorkNode({ self: { id, name: `n${id}` }, config, registry: builtinWorkloads(), random: seededRandom(7) })
  n.members(0, peers)
  return n
}

function messages (effects: WorkEffect[], type: WorkMessage['type']): WorkMessage[] {
  return effects.flatMap(e => (e.kind === 'send' || e.kind === 'publish') && e.msg.type === type ? [e.msg] : [])
}

interface Setup {
  a: WorkNode
  jobId: string
  replica: string
  offer: Extract<WorkMessage, { type: 'offer' }>
  peers: Peer[]
  /** What `a` did at submit (the replica's snapshot among it). */
  effects: WorkEffect[]
}

/** Coordinator `a` with a 40-task sleep job; its replica and the offer every member heard. */
function setup (): Setup {
  const peers = ['a', 'b', 'c', 'x'].map(id => peer(id))
  const a = node('a', peers)
  const { jobId, effects } = a.submit(0, 'sleep', { tasks: 40, ms: 1 })
  const offer = messages(effects, 'offer')[0] as Extract<WorkMessage, { type: 'offer' }>
  assert.equal(offer.replicas.length, 1, 'the offer names the replica set')
  return { a, jobId, replica: offer.replicas[0], offer, peers, effects }
}

describe('workloads authority: forged work control is refused and counted', () => {
  it('a takeover from a member that is not a replica leaves the coordinator in charge', () => {
    const { a, jobId, replica } = setup()
    const stranger = ['b', 'c', 'x'].find(id => id !== replica)!
    a.receive(1, stranger, { type: 'takeover', jobId, coordinator: stranger, epoch: 2 })
    assert.equal(a.job(jobId)?.coordinator, 'a')
    assert.equal(a.stats().coordinator.forged.takeover, 1)
    // a takeover naming a coordinator other than its sender is forged too
    a.receive(1, replica, { type: 'takeover', jobId, coordinator: stranger, epoch: 2 })
    assert.equal(a.job(jobId)?.coordinator, 'a')
    assert.equal(a.stats().coordinator.forged.takeover, 2)
  })

  it('a replica ignores a job end and replication not from the coordinator', () => {
    const { a, jobId: id, replica, peers, effects } = setup()
    const r = node(replica, peers)
    // the replica gets the snapshot the coordinator sent it at submit
    for (const e of effects) if (e.kind === 'send' && e.to === replica) r.receive(0, 'a', e.msg)
    assert.equal(r.job(id)?.status, 'running')
    const stranger = ['b', 'c', 'x'].find(id => id !== replica)!
    const job = a.job(id)!
    r.receive(1, stranger, { type: 'job-end', job: { ...job, id, status: 'done', result: 999, coordinator: stranger } })
    assert.equal(r.job(id)?.status, 'running', 'a forged job end does not end it')
    assert.equal(r.stats().coordinator.forged['job-end'], 1)
    const header = { workload: 'sleep', kind: 'map' as const, input: { tasks: 1, ms: 1 }, status: 'done' as const, result: 999, error: null, ignored: 0, duplicates: 0, taskCount: 1, deadlineMs: null, remainingMs: null }
    r.receive(1, stranger, { type: 'snapshot', jobId: id, coordinator: stranger, epoch: 5, seq: 0, replicas: [replica], part: 0, last: true, header, members: [], names: [], tasks: [] })
    r.receive(1, stranger, { type: 'replicate', jobId: id, coordinator: stranger, epoch: 5, seq: 1, replicas: [replica], tasks: [], status: 'done', result: 999, error: null, ignored: 0, duplicates: 0 })
    assert.equal(r.job(id)?.coordinator, 'a')
    assert.equal(r.job(id)?.status, 'running')
    assert.equal(r.stats().coordinator.forged.snapshot, 1)
    assert.equal(r.stats().coordinator.forged.replicate, 1)
  })

  it('a worker runs a grant only for a task it claimed from the coordinator', () => {
    const { jobId, offer, peers } = setup()
    const w = node('c', peers)
    const claims = messages(w.receive(1, 'a', offer), 'claim') as Array<Extract<WorkMessage, { type: 'claim' }>>
    const claimed = claims.flatMap(c => c.tasks)
    // from someone else: never run
    const forged = w.receive(2, 'x', { type: 'grant', jobId, epoch: 1, workload: 'sleep', tasks: [{ index: 0, input: { ms: 1 } }] })
    assert.deepEqual(forged.filter(e => e.kind === 'run'), [])
    assert.equal(w.stats().worker.forged.grant, 1)
    // for a job never offered: never run
    w.receive(2, 'a', { type: 'grant', jobId: 'ffffffffffffffff', epoch: 1, workload: 'sha256', tasks: [{ index: 0, input: { first: 0, count: 1, blockBytes: 1 } }] })
    assert.equal(w.stats().worker.forged.grant, 2)
    // from the coordinator, for a task it did not claim: given back unrun
    const unclaimed = offer.tasks.map(t => t.index).find(i => !claimed.includes(i))
    if (unclaimed != null) {
      const effects = w.receive(2, 'a', { type: 'grant', jobId, epoch: 1, workload: 'sleep', tasks: [{ index: unclaimed, input: { ms: 1 } }] })
      assert.deepEqual(effects.filter(e => e.kind === 'run'), [])
      assert.deepEqual((messages(effects, 'release')[0] as Extract<WorkMessage, { type: 'release' }>).tasks, [unclaimed])
    }
    // a claimed task with an input over the workload's limits: refused, answered as a failed run
    assert.ok(claimed.length > 0, 'c claimed some of the offered tasks')
    const refused = w.receive(3, 'a', { type: 'grant', jobId, epoch: 1, workload: 'sleep', tasks: [{ index: claimed[0], input: { ms: 10 ** 12 } }] })
    assert.deepEqual(refused.filter(e => e.kind === 'run'), [])
    const result = messages(refused, 'result')[0] as Extract<WorkMessage, { type: 'result' }>
    assert.equal(result.ok, false)
    assert.match(result.error ?? '', /task input refused: ms must be an integer/)
    assert.equal(w.stats().worker.tasksRefused, 1)
  })

  it('a worker ignores a job end not from the coordinator, and follows a takeover only once the coordinator is failed here', () => {
    const { a, jobId, offer, peers, replica } = setup()
    const worker = ['b', 'c', 'x'].find(id => id !== replica)!
    const w = node(worker, peers)
    w.receive(1, 'a', offer)
    const stranger = ['b', 'c', 'x'].find(id => id !== replica && id !== worker)!
    w.receive(2, stranger, { type: 'job-end', job: { ...a.job(jobId)!, status: 'done', result: 1 } })
    assert.equal(w.stats().worker.forged['job-end'], 1)
    assert.equal(w.coordinatorOf(jobId), 'a', 'the job is still followed')
    // the replica's takeover, heard while `a` is alive here: held
    w.receive(3, replica, { type: 'takeover', jobId, coordinator: replica, epoch: 2 })
    assert.equal(w.coordinatorOf(jobId), 'a')
    // membership reports `a` failed: the held takeover is followed
    w.members(4, peers.map(p => p.id === 'a' ? peer('a', false) : p))
    assert.equal(w.coordinatorOf(jobId), replica)
    // a stranger's offer at a higher epoch is not a takeover
    w.receive(5, stranger, { ...offer, coordinator: stranger, epoch: 3 })
    assert.equal(w.coordinatorOf(jobId), replica)
    assert.equal(w.stats().worker.forged.offer, 1)
  })

  it('a coordinator that steps down for a takeover says so, and a worker that never saw it failed follows the taker on its word; the word of anyone else is refused', () => {
    const { a, jobId, offer, peers, replica } = setup()
    const worker = ['b', 'c', 'x'].find(id => id !== replica)!
    const stranger = ['b', 'c', 'x'].find(id => id !== replica && id !== worker)!
    const w = node(worker, peers)
    w.receive(1, 'a', offer)
    // `a` was frozen: its replica took the job over; here `a` stayed alive, so the takeover waits
    const takeover: WorkMessage = { type: 'takeover', jobId, coordinator: replica, epoch: 2 }
    w.receive(2, replica, takeover)
    assert.equal(w.coordinatorOf(jobId), 'a')
    // `a` resumes, hears the takeover and steps down: its word goes to every member
    const vouches = messages(a.receive(3, replica, takeover), 'takeover')
    assert.deepEqual(vouches, [takeover], 'a publishes whom it follows now')
    assert.equal(a.coordinatorOf(jobId), replica)
    // the same word from someone the worker does not follow moves nothing
    w.receive(4, stranger, { type: 'takeover', jobId, coordinator: stranger, epoch: 3 })
    assert.equal(w.stats().worker.forged.takeover, 1)
    w.receive(5, 'a', vouches[0])
    assert.equal(w.coordinatorOf(jobId), replica, 'the worker follows the taker')
    // heard again (gossip), or from the taker's side: old news, not a forgery
    w.receive(6, 'a', vouches[0])
    assert.equal(w.coordinatorOf(jobId), replica)
    assert.equal(w.stats().worker.forged.takeover, 1)
    assert.equal(a.stats().coordinator.forged.takeover ?? 0, 0, 'its own word, looped back, is not a forgery either')
    const bystander = node(stranger, peers)
    bystander.receive(7, 'a', vouches[0])
    assert.equal(bystander.stats().worker.forged.takeover ?? 0, 0, 'nor at a member that never heard of the job')
  })
})
