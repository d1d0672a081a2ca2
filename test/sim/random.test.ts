/**
 * Randomised simulation, after TigerBeetle's VOPR: each run draws from its
 * seed the cluster size, the loss rate, a job and a schedule of faults
 * (kill -9, a silent crash, SIGSTOP and SIGCONT, a partition and its heal,
 * forged work control), runs membership and work claims together, and
 * checks the invariants after every event (test/sim/invariants.ts,
 * testkit/sim/work-layer.ts) and that the job ends everywhere with every task
 * counted once.
 *
 *   SIM_RANDOM=1 npm run test:sim          10 fresh seeds (SIM_RANDOM_RUNS=n for more)
 *   SIM_SEED=<seed> node --test test/sim/random.test.ts   replays one run exactly
 *
 * Without SIM_RANDOM it runs one fixed seed and the seeds that once failed,
 * so that the harness cannot rot and old failures stay fixed.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SimCluster } from '../../testkit/sim/cluster.ts'
import { SimWork } from '../../testkit/sim/work-layer.ts'
import { checkMembership } from './invariants.ts'
import { seededRandom, type MemberId, type Random } from '../../membership/index.ts'
import type { JobView } from '../../workloads/index.ts'

const WORK = { slots: 4, leaseMs: 2000, leaseRenewMs: 500, offerIntervalMs: 200, claimTimeoutMs: 1000, maxTaskAttempts: 3, capacityIntervalMs: 100 }
const FIXED_SEED = 0x7a11
/**
 * Seeds that once failed, replayed by every run: a job stalled because workers
 * refused a takeover by a replica they had not heard named (2777326119), a job
 * lost with both its holders (4250122946), an ended job revived by a replica
 * that took it over from the other side of a partition (974054556), a replica
 * of a coordinator that had stepped down for a takeover (2221815461), rival
 * takeovers at one epoch by a replica and a replaced one (1804750645), a
 * member that gossip missed until push-pull's first round (1688405068), a
 * "forger" that was a named replica whose snapshot was lost (823757117).
 */
const REGRESSION_SEEDS = [2777326119, 4250122946, 974054556, 2221815461, 1804750645, 1688405068, 823757117]
/** Bound of a job's end after the last fault healed (simulated ms). */
const END_MS = 180_000

type Fault = 'kill -9' | 'silent crash' | 'freeze' | 'partition' | 'forgery'
const FAULTS: Fault[] = ['kill -9', 'silent crash', 'freeze', 'partition', 'forgery']

interface Plan {
  size: number
  loss: number
  tasks: number
  taskMs: number
  faults: Array<{ at: number, fault: Fault, lasts: number }>
}

function draw (seed: number): Plan {
  const r = seededRandom(seed)
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1))
  const faults = Array.from({ length: int(1, 3) }, () => ({ at: int(0, 8000), fault: FAULTS[int(0, FAULTS.length - 1)], lasts: int(2000, 20_000) }))
  return { size: int(5, 16), loss: [0, 0.01, 0.03][int(0, 2)], tasks: int(50, 300), taskMs: int(100, 2000), faults: faults.sort((a, b) => a.at - b.at) }
}

function pick (random: Random, ids: MemberId[]): MemberId {
  return ids[Math.floor(random() * ids.length)]
}

/**
 * How a run ended. `lost`: the coordinator and its replica both crashed before
 * a takeover named another (the default of one replica survives one failure
 * at a time, workloads/README.md, Known limits), and no member up knows the job.
 */
type Outcome = 'ended' | 'lost'

function run (seed: number): Outcome {
  const plan = draw(seed)
  const cluster = new SimCluster({ seed, size: plan.size, profile: 'lan', lossRate: plan.loss, latencyMs: { min: 1, max: 10 }, joinWithinMs: 1000, recordEvents: false })
  const work = new SimWork(cluster, { config: WORK })
  const violations = checkMembership(cluster)
  cluster.start()
  // Gossip may miss a member at 3 % loss; push-pull (every 30 s on lan) repairs it, so forming may take one round of it.
  assert.ok(cluster.runUntil(() => cluster.upIds().length === plan.size && cluster.converged(), 60_000) != null, 'the cluster formed')
  const coordinator = pick(cluster.random, cluster.ids)
  const jobId = work.submit(coordinator, 'sleep', { tasks: plan.tasks, ms: plan.taskMs })
  const start = cluster.now
  /** Keeps a majority up: faults hit at most a minority of the members. */
  const hit = new Set<MemberId>()
  const crashed = new Set<MemberId>()
  const victim = (): MemberId | undefined => {
    if ((hit.size + 1) * 2 >= plan.size) return undefined
    const candidates = cluster.upIds().filter(id => !hit.has(id))
    const id = pick(cluster.random, candidates)
    hit.add(id)
    return id
  }
  for (const { at, fault, lasts } of plan.faults) {
    cluster.runFor(Math.max(0, start + at - cluster.now))
    const id = victim()
    if (id == null) continue
    if (fault === 'kill -9' || fault === 'silent crash') {
      cluster.crash(id, { refuse: fault === 'kill -9' })
      crashed.add(id)
    }
    if (fault === 'freeze') {
      cluster.freeze(id)
      cluster.net.schedule(cluster.now + lasts, () => { cluster.resume(id) })
    }
    if (fault === 'partition') {
      const side = [id]
      cluster.net.partition(side, cluster.ids.filter(x => x !== id))
      cluster.net.schedule(cluster.now + lasts, () => { cluster.net.heal() })
    }
    if (fault === 'forgery') {
      const view = work.core(coordinator).job(jobId)
      // a forger holds no role in the job: no record, and never named its replica (a named
      // replica whose snapshot was lost may take the job over: authority.ts allows that)
      if (view != null && work.core(id).job(jobId) == null && !work.namedReplicas(jobId).has(id)) {
        for (const to of cluster.upIds()) {
          if (to === id) continue
          work.forge(id, to, { type: 'takeover', jobId, coordinator: id, epoch: view.epoch + 1 })
          work.forge(id, to, { type: 'job-end', job: { ...view, status: 'done', result: 1 } })
          work.forge(id, to, { type: 'grant', jobId, epoch: view.epoch, workload: 'sleep', tasks: [{ index: 0, input: { ms: 1 } }] })
        }
      }
    }
  }
  cluster.runFor(25_000) // the last freeze or partition is over
  const took = cluster.runUntil(() => work.ended(jobId) != null && work.stillRunning(jobId).length === 0, END_MS, 100)
  const context = `plan ${JSON.stringify(plan)}`
  assert.deepEqual([...violations, ...work.violations], [], context)
  if (took == null && crashed.has(coordinator) && crashed.size >= 2 && work.records(jobId) === '') return 'lost'
  assert.ok(took != null, `job ended everywhere (records: ${work.records(jobId)}); ${context}`)
  const view = work.ended(jobId) as JobView
  assert.equal(view.status, 'done', `${String(view.error)}; ${context}`)
  assert.equal(view.result, plan.tasks, context)
  return 'ended'
}

function seeds (): number[] {
  if (process.env.SIM_SEED != null && process.env.SIM_SEED !== '' && process.env.SIM_SEED !== 'random') return [Number(process.env.SIM_SEED)]
  if (process.env.SIM_RANDOM !== '1') return [FIXED_SEED, ...REGRESSION_SEEDS]
  const runs = Number(process.env.SIM_RANDOM_RUNS ?? 10)
  return Array.from({ length: runs }, () => Math.floor(Math.random() * 2 ** 32))
}

describe('randomised simulation: membership and work claims under a random fault schedule', () => {
  for (const seed of seeds()) {
    it(`seed ${seed}`, (t) => {
      try {
        if (run(seed) === 'lost') t.diagnostic('the job was lost with its coordinator and its replica, both crashed (one replica survives one failure at a time)')
      } catch (err) {
        if (err instanceof Error) err.message = `${err.message}\nreplay: SIM_SEED=${seed} node --test test/sim/random.test.ts`
        throw err
      }
    })
  }
})
