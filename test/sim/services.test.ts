/**
 * Services on the simulated cluster: real membership and real services cores
 * on 5 nodes over a lossy network, hit by kill -9, SIGSTOP, partitions and
 * restarts. The layer (service-layer.ts) checks after every start and kill
 * that a singleton never has two live instances and that its epochs grow.
 *
 * Replay a failure exactly: `SIM_SEED=<seed> node --test test/sim/services.test.ts`.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SimCluster } from '../../testkit/sim/cluster.ts'
import { SimServices } from '../../testkit/sim/service-layer.ts'
import { seeded } from './seed.ts'
import { parseDefinition } from '../../services/index.ts'
import type { MemberId } from '../../membership/index.ts'

const SIZE = 5
const FORM_MS = 20_000
/** A replacement must be running within this (simulated) time of a fault. */
const RECOVER_MS = 30_000

const { simulate } = seeded(0x5e41, 'node --test test/sim/services.test.ts')

function boot (seed: number): { cluster: SimCluster, services: SimServices } {
  const cluster = new SimCluster({ seed, size: SIZE, profile: 'lan', lossRate: 0.01, latencyMs: { min: 1, max: 10 }, joinWithinMs: 1000, recordEvents: false })
  const services = new SimServices(cluster)
  cluster.start()
  assert.ok(cluster.runUntil(() => cluster.upIds().length === SIZE && cluster.converged(), FORM_MS) != null, 'the cluster formed')
  services.define(cluster.idOf(0), parseDefinition({ name: 'cron', mode: 'singleton', command: ['cron'] }))
  services.define(cluster.idOf(1), parseDefinition({ name: 'web', mode: 'replicated', replicas: 3, command: ['web'] }))
  return { cluster, services }
}

/** Runs until `pred`, failing with the live instances when it does not come. */
function until (cluster: SimCluster, services: SimServices, pred: () => boolean, what: string): void {
  const took = cluster.runUntil(pred, RECOVER_MS, 50)
  const live = services.processes.filter(p => p.alive).map(p => `${p.instance}@${p.node}`).join(', ')
  assert.ok(took != null, `${what} by ${cluster.now} ms (live: ${live})`)
}

const holderOf = (services: SimServices): MemberId => services.live('cron')[0].node
const oneCron = (services: SimServices, on: (id: MemberId) => boolean = () => true): boolean =>
  services.live('cron').length === 1 && on(services.live('cron')[0].node)
const webPlaced = (cluster: SimCluster, services: SimServices): boolean => {
  const nodes = services.live('web').map(p => p.node).filter(id => cluster.truth.get(id) === 'up')
  return nodes.length === 3 && new Set(nodes).size === 3
}

describe('services in simulation (5 nodes, 1 % loss)', () => {
  it('kill -9, SIGSTOP and a 2|3 partition of the holder: never two instances, epochs grow, one runs after each', { timeout: 120_000 }, simulate(0, (seed) => {
    const { cluster, services } = boot(seed)
    until(cluster, services, () => oneCron(services) && webPlaced(cluster, services), 'a singleton and 3 replicas run')

    const crashed = holderOf(services)
    cluster.crash(crashed, { refuse: true })
    services.crashed(crashed)
    until(cluster, services, () => oneCron(services, id => id !== crashed) && webPlaced(cluster, services), 'the singleton moved and 3 replicas run again after kill -9')
    cluster.restart(crashed)
    cluster.runFor(10_000)

    const frozen = holderOf(services)
    cluster.freeze(frozen)
    until(cluster, services, () => oneCron(services, id => id !== frozen), 'the singleton moved after SIGSTOP')
    cluster.resume(frozen)
    cluster.runFor(10_000)
    assert.ok(oneCron(services, id => id !== frozen), 'the resumed holder did not start it again')

    const holder = holderOf(services)
    const minority = [holder, cluster.ids.find(id => id !== holder) as MemberId]
    const majority = cluster.ids.filter(id => !minority.includes(id))
    cluster.net.partition(minority, majority)
    until(cluster, services, () => oneCron(services, id => majority.includes(id)), 'the majority side runs the singleton')
    cluster.runFor(10_000)
    cluster.net.heal()
    until(cluster, services, () => cluster.converged(), 'the partition healed')
    cluster.runFor(10_000)
    assert.ok(oneCron(services), 'exactly one after the heal')
    assert.ok(webPlaced(cluster, services), '3 replicas on distinct members after the heal')
    assert.deepEqual(services.violations, [])
    assert.ok(services.live('cron')[0].epoch >= 4, 'a new epoch at every move')
  }))

  it('random crashes, freezes, partitions and instance failures: the invariant holds after every event, and no storm of lease rounds', { timeout: 120_000 }, simulate(1, (seed) => {
    const { cluster, services } = boot(seed)
    until(cluster, services, () => oneCron(services), 'the singleton runs')
    for (let round = 0; round < 12; round++) {
      const victim = cluster.upIds()[Math.floor(cluster.random() * cluster.upIds().length)]
      const fault = Math.floor(cluster.random() * 4)
      if (fault === 0) {
        cluster.crash(victim, { refuse: cluster.random() < 0.5 })
        services.crashed(victim)
        cluster.runFor(3000 + cluster.random() * 12_000)
        cluster.restart(victim)
      } else if (fault === 1) {
        cluster.freeze(victim)
        cluster.runFor(1000 + cluster.random() * 12_000)
        cluster.resume(victim)
      } else if (fault === 2) {
        // the singleton's process exits by itself, again and again: restarts, then a move
        for (let i = 0; i < 4; i++) {
          services.failInstance('cron')
          cluster.runFor(1000 + cluster.random() * 3000)
        }
      } else {
        const shuffled = [...cluster.ids].sort(() => cluster.random() - 0.5)
        cluster.net.partition(shuffled.slice(0, 2), shuffled.slice(2))
        cluster.runFor(2000 + cluster.random() * 12_000)
        cluster.net.heal()
      }
      cluster.runFor(10_000)
    }
    until(cluster, services, () => cluster.converged() && oneCron(services), 'one singleton once the faults ended')
    assert.deepEqual(services.violations, [])
    // a renewal round per renewMs, plus a few per claim: never a storm of rounds
    const bound = cluster.now / 300 * 2 + 200
    assert.ok(services.maxLeaseRounds() < bound, `${services.maxLeaseRounds()} lease rounds on one node in ${Math.round(cluster.now)} ms (bound ${Math.round(bound)})`)
  }))
})
