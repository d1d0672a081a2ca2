import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parseDefinition, place, ServicesNode, type ServiceDefinition, type ServiceEffect, type ServicePeer } from '../../services/index.ts'
import { Registry } from '../../services/registry.ts'
import { LeaseGranter } from '../../services/lease.ts'

describe('service definitions from untrusted input', () => {
  it('fills defaults and keeps what was given', () => {
    const d = parseDefinition({ name: 'web', mode: 'replicated', replicas: 3, command: ['sleep', '100'], tags: { role: 'web' }, check: { http: 'http://127.0.0.1:8080/' } })
    assert.equal(d.replicas, 3)
    assert.deepEqual(d.check, { http: 'http://127.0.0.1:8080/', intervalMs: 2000, timeoutMs: 1000, failuresBeforeRestart: 3 })
    assert.deepEqual(d.restart, { initialMs: 500, maxMs: 30_000 })
    assert.equal(d.stopGraceMs, 5000)
    assert.equal(parseDefinition({ name: 'cron', mode: 'singleton' }).replicas, 1)
  })

  it('refuses bad input with a message naming the field (table)', () => {
    const table: Array<[unknown, RegExp]> = [
      [null, /must be an object/],
      [{ name: 'x', mode: 'leader' }, /mode must be "singleton" or "replicated"/],
      [{ name: '../x', mode: 'singleton' }, /name must be/],
      [{ name: 'x', mode: 'replicated' }, /replicas must be an integer from 1/],
      [{ name: 'x', mode: 'replicated', replicas: 0 }, /replicas must be an integer from 1/],
      [{ name: 'x', mode: 'singleton', replicas: 2 }, /exactly 1 replica/],
      [{ name: 'x', mode: 'singleton', command: [] }, /command must be a non-empty array/],
      [{ name: 'x', mode: 'singleton', command: ['a', 1] }, /command must hold strings/],
      [{ name: 'x', mode: 'singleton', env: { '1A': 'v' } }, /env has a bad key/],
      [{ name: 'x', mode: 'singleton', check: { http: 'x', tcp: 'y:1' } }, /exactly one of http, tcp, command/],
      [{ name: 'x', mode: 'singleton', check: { tcp: 'nohost' } }, /HOST:PORT/],
      [{ name: 'x', mode: 'singleton', stopGraceMs: -1 }, /stopGraceMs must be an integer/],
      [{ name: 'x', mode: 'singleton', color: 'red' }, /unknown field "color"/]
    ]
    for (const [input, pattern] of table) {
      assert.throws(() => parseDefinition(input), (err: Error) => err.name === 'InvalidServiceError' && pattern.test(err.message), String(pattern))
    }
  })
})

describe('the service registry (last writer wins)', () => {
  it('converges to the same entries in any order of arrival, removals included', () => {
    const a = new Registry()
    const b = new Registry()
    const d = (name: string, replicas: number): ServiceDefinition => parseDefinition({ name, mode: 'replicated', replicas })
    const e1 = a.write('A', 'web', d('web', 1))
    const e2 = b.write('B', 'web', d('web', 2)) // concurrent: same clock, writer B wins
    const e3 = a.write('A', 'db', d('db', 1))
    const e4 = b.write('B', 'db', null)
    const one = new Registry([e1, e2, e3, e4])
    const two = new Registry([e4, e3, e2, e1])
    assert.equal(one.digest(), two.digest())
    assert.equal(one.get('web')?.definition?.replicas, 2)
    assert.deepEqual(one.definitions().map(x => x.name), ['web'], 'db: B removed it at clock 2 > A\'s write at 2? ties go to B')
  })
})

describe('the lease granter', () => {
  it('refuses a second holder while a promise lasts, and an epoch not above the highest', () => {
    const g = new LeaseGranter(0, 1000)
    assert.equal(g.request(500, 'A', 's', 1).granted, false, 'no grants in the first lease after a start')
    assert.equal(g.request(1000, 'A', 's', 1).granted, true)
    assert.deepEqual(g.request(1100, 'B', 's', 2), { granted: false, maxEpoch: 1, holder: 'A', retryInMs: 900 })
    assert.equal(g.request(1500, 'A', 's', 1).granted, true, 'the holder renews its epoch')
    assert.equal(g.request(2400, 'B', 's', 2).granted, false, 'the renewal lasts until 2500')
    assert.equal(g.request(2500, 'B', 's', 1).granted, false, 'an old epoch')
    assert.equal(g.request(2500, 'B', 's', 2).granted, true)
    g.release('B', 's', 2)
    assert.equal(g.request(2501, 'C', 's', 2).granted, false, 'released, but epoch 2 was B\'s')
    assert.equal(g.request(2501, 'C', 's', 3).granted, true)
  })
})

describe('placement', () => {
  const d = parseDefinition({ name: 'web', mode: 'replicated', replicas: 2 })
  const ids = ['m1', 'm2', 'm3', 'm4', 'm5']
  it('is sticky: members running an instance keep it when others join', () => {
    const fresh = place(d, ids.map(id => ({ id, load: 0, running: false })))
    assert.equal(fresh.length, 2)
    const others = ids.filter(id => !fresh.includes(id))
    const withRunners = place(d, [...others.map(id => ({ id, load: 0, running: false })), { id: others[0] + 'x', load: 0, running: false }, ...fresh.map(id => ({ id, load: 0, running: true }))])
    assert.deepEqual(new Set(withRunners), new Set(fresh))
  })
  it('keeps the best ranked runners when too many run, and fills from the rest', () => {
    const all = place(d, ids.map(id => ({ id, load: 0, running: true })))
    assert.equal(all.length, 2)
    assert.equal(place(d, [{ id: 'm1', load: 0, running: false }]).length, 1, 'under-placed: one member only')
  })
})

describe('the state report', () => {
  it('carries the load noted last (instances plus busy slots and CPU), without sending anything by itself', () => {
    const n = new ServicesNode({ self: { id: 'a', name: 'a', tags: {} }, now: 0, exec: true, seqBase: 0, wallTime: t => t })
    n.members(0, [], { side: 'unknown', stableSize: 0 })
    n.noteLoad(2.345)
    const effects = n.setHandlers(10, ['edge'])
    const report = effects.find(e => e.kind === 'publish' && e.msg.type === 'service-state')
    assert.ok(report?.kind === 'publish' && report.msg.type === 'service-state')
    assert.equal(report.msg.load, 2.35)
    assert.deepEqual(report.msg.handlers, ['edge'])
  })

  it('is not sent for each member that joins: never while nothing is defined, at most once per newcomerReportMs otherwise', () => {
    const reports = (effects: ServiceEffect[]): number => effects.filter(e => e.kind === 'publish' && e.msg.type === 'service-state').length
    const health = { side: 'majority', stableSize: 0 } as const
    const peer = (id: string): ServicePeer => ({ id, name: id, alive: true, left: false, tags: {} })
    const n = new ServicesNode({ self: { id: 'a', name: 'a', tags: {} }, now: 0, exec: true, seqBase: 0, wallTime: t => t })
    assert.equal(reports(n.members(0, [peer('a')], health)), 1, 'the first report')
    // Fifty members join one by one, 10 ms apart: a start storm.
    const joined = [peer('a')]
    let sent = 0
    for (let i = 1; i <= 50; i++) {
      joined.push(peer(`m${i}`))
      sent += reports(n.members(i * 10, [...joined], health))
    }
    assert.equal(sent, 0, 'nothing defined, nothing to tell a newcomer')

    const defined = n.define(600, parseDefinition({ name: 'web', mode: 'replicated', replicas: 1, command: ['sleep', '100'] }))
    assert.equal(reports(defined.effects), 1, 'a definition changes the report')
    const config = n.config
    let t = 600
    sent = 0
    for (let i = 51; i <= 100; i++) {
      t += 10
      joined.push(peer(`m${i}`))
      sent += reports(n.members(t, [...joined], health))
    }
    assert.equal(sent, 0, `no report within newcomerReportMs (${config.newcomerReportMs} ms) of the last one`)
    assert.equal(n.nextDeadline() <= 600 + config.newcomerReportMs, true, 'a report for the newcomers is due then')
    assert.equal(reports(n.tick(600 + config.newcomerReportMs)), 1, 'one report for all fifty')
    assert.equal(reports(n.tick(600 + config.newcomerReportMs + 300)), 0)
  })
})

// --- a small world of cores with instant delivery -------------------------

interface World {
  nodes: Map<string, ServicesNode>
  /** Feeds one input to a member and carries out its effects. */
  input: (id: string, fn: (n: ServicesNode, now: number) => ServiceEffect[]) => void
  run: (ms: number) => void
  processes: Array<{ node: string, instance: string, service: string, epoch: number, until: number | null, alive: boolean }>
  now: () => number
}

function world (ids: string[]): World {
  let now = 0
  const nodes = new Map<string, ServicesNode>()
  const processes: World['processes'] = []
  const queue: Array<() => void> = []
  const perform = (id: string, effects: ServiceEffect[]): void => {
    for (const e of effects) {
      if (e.kind === 'send') queue.push(() => { feed(e.to, n => n.receive(now, id, e.msg)) })
      else if (e.kind === 'publish') {
        for (const to of ids) if (to !== id) queue.push(() => { feed(to, n => n.receive(now, id, e.msg)) })
      }
      else if (e.kind === 'start') {
        processes.push({ node: id, instance: e.instance, service: e.service, epoch: e.epoch, until: e.until, alive: true })
        queue.push(() => { feed(id, n => n.instanceStarted(now, e.instance, 1000 + processes.length)) })
      } else if (e.kind === 'extend') {
        const p = processes.find(x => x.instance === e.instance && x.alive)
        if (p != null) p.until = e.until
      } else if (e.kind === 'stop') {
        const p = processes.find(x => x.instance === e.instance && x.alive)
        if (p != null) p.alive = false
        queue.push(() => { feed(id, n => n.instanceExited(now, e.instance, 'stopped')) })
      }
    }
  }
  const feed = (id: string, input: (n: ServicesNode) => ServiceEffect[]): void => {
    const n = nodes.get(id)
    if (n != null) perform(id, input(n))
  }
  const peers: ServicePeer[] = ids.map(id => ({ id, name: id, alive: true, left: false, tags: {} }))
  for (const id of ids) {
    nodes.set(id, new ServicesNode({ self: { id, name: id, tags: {} }, now: 0, exec: true, seqBase: 0, wallTime: t => t }))
  }
  for (const id of ids) feed(id, n => n.members(0, peers, { side: 'majority', stableSize: ids.length }))
  const drain = (): void => { while (queue.length > 0) queue.shift()?.() }
  return {
    nodes,
    input: (id, fn) => { feed(id, n => fn(n, now)) },
    processes,
    now: () => now,
    run (ms) {
      const end = now + ms
      for (; now < end; now += 50) {
        drain()
        for (const p of processes) if (p.alive && p.until != null && p.until <= now) p.alive = false
        for (const [id, n] of nodes) if (n.nextDeadline() <= now) feed(id, x => x.tick(now))
        drain()
        const bySingleton = new Map<string, number>()
        for (const p of processes) if (p.alive && p.service === 'cron') bySingleton.set(p.service, (bySingleton.get(p.service) ?? 0) + 1)
        assert.ok((bySingleton.get('cron') ?? 0) <= 1, `two instances of cron at ${now}`)
      }
    }
  }
}

describe('services core in a small world (instant delivery)', () => {
  it('a singleton defined on one member runs on exactly one, named the same by every member', () => {
    const w = world(['a', 'b', 'c', 'd', 'e'])
    w.run(2000) // past the granters' first lease
    w.input('c', (n, now) => n.define(now, parseDefinition({ name: 'cron', mode: 'singleton', command: ['true'] })).effects)
    w.run(3000)
    const running = w.processes.filter(p => p.alive)
    assert.equal(running.length, 1)
    const holders = [...w.nodes.values()].map(n => n.view()[0].instances.filter(i => i.state === 'running').map(i => i.member))
    for (const h of holders) assert.deepEqual(h, [running[0].node])
  })
})

describe('services core: review regressions', () => {
  it('a member restarted alone (its voters persisted) never grants itself a singleton', () => {
    const cron = parseDefinition({ name: 'cron', mode: 'singleton', command: ['true'] })
    const n = new ServicesNode({
      self: { id: 'a', name: 'a', tags: {} },
      now: 0,
      exec: true,
      seqBase: 0,
      wallTime: t => t,
      persisted: { entries: [{ name: 'cron', version: { clock: 1, writer: 'b' }, definition: cron }], epochs: { cron: 4 }, voters: ['a', 'b', 'c', 'd', 'e'] }
    })
    const effects: ServiceEffect[] = [...n.members(0, [], { side: 'unknown', stableSize: 0 })]
    for (let t = 100; t < 10_000; t += 100) effects.push(...n.tick(t))
    assert.equal(effects.filter(e => e.kind === 'start').length, 0, 'one vote of five is no majority')
  })

  it('a new definition of a running service restarts its instance at a higher epoch', () => {
    const w = world(['a', 'b', 'c'])
    w.run(2000)
    w.input('a', (n, now) => n.define(now, parseDefinition({ name: 'cron', mode: 'singleton', command: ['sleep', '1'] })).effects)
    w.run(2000)
    const first = w.processes.filter(p => p.alive)
    assert.equal(first.length, 1)
    w.input('b', (n, now) => n.define(now, parseDefinition({ name: 'cron', mode: 'singleton', command: ['sleep', '2'] })).effects)
    w.run(4000)
    const now = w.processes.filter(p => p.alive)
    assert.equal(now.length, 1)
    assert.ok(now[0].epoch > first[0].epoch && !first[0].alive, 'the old instance stopped, a new one runs')
  })
})
