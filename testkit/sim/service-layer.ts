/**
 * Services on the simulated cluster: every simulated node runs the real
 * services core beside its real membership core, through the core driver the
 * agent uses, and learns of members only from its own membership core, so a
 * crash, a freeze or a partition reaches it as membership detects it.
 *
 * Instances are simulated processes with the supervisor's rules
 * (agent/service-supervisor.ts): one dies with its agent's crash, at its
 * lease's end (`until`, moved by `extend`) even while its agent is frozen,
 * and on `stop`. A restarted node starts from what it last persisted, as an
 * agent with a --data-dir does. The invariant "never two live instances of a singleton, and
 * a singleton's epochs only grow" is checked at every start and every kill.
 */
import { CoreDriver, type Effect, type MemberId } from '../../membership/index.ts'
import { ServicesNode, toServicePeer, type PersistedServices, type ServiceDefinition, type ServiceEffect, type ServiceMessage } from '../../services/index.ts'
import type { SimCluster, SimNode } from './cluster.ts'

/** Simulated time a process takes to start (report its pid) and to stop. */
const SPAWN_MS = 30
const STOP_MS = 20

export interface SimProcess {
  node: MemberId
  service: string
  instance: string
  epoch: number
  until: number | null
  alive: boolean
  startedAt: number
  endedAt?: number
}

interface ServicesState {
  id: MemberId
  node: SimNode
  core: ServicesNode
  driver: CoreDriver<ServiceEffect>
  /** Instance ends that came while the agent was frozen, handed over on resume. */
  held: Array<() => void>
}

export class SimServices {
  readonly cluster: SimCluster
  readonly violations: string[] = []
  readonly processes: SimProcess[] = []
  readonly #nodes = new Map<MemberId, ServicesState>()
  readonly #singletons = new Set<string>()
  readonly #lastEpoch = new Map<string, number>()
  /** What each node last persisted (its --data-dir): a restarted node starts from it. */
  readonly #disk = new Map<MemberId, PersistedServices>()

  constructor (cluster: SimCluster) {
    this.cluster = cluster
    cluster.onBoot(node => { this.#boot(node) })
    cluster.onEffects((node, effects) => { this.#membershipEffects(node, effects) })
    cluster.onResume(node => { this.#resume(node) })
  }

  core (id: MemberId): ServicesNode {
    const state = this.#nodes.get(id)
    if (state == null) throw new Error(`no services node ${id}`)
    return state.core
  }

  define (on: MemberId, definition: ServiceDefinition): void {
    if (definition.mode === 'singleton') this.#singletons.add(definition.name)
    const state = this.#nodes.get(on) as ServicesState
    state.driver.drive(now => state.core.define(now, definition).effects)
  }

  /** Live simulated processes of `service`. */
  live (service: string): SimProcess[] {
    return this.processes.filter(p => p.alive && p.service === service)
  }

  #boot (node: SimNode): void {
    this.#nodes.get(node.id)?.driver.stop()
    const core = new ServicesNode({ self: { id: node.id, name: node.core.self.name, tags: {} }, now: this.cluster.now, persisted: this.#disk.get(node.id), exec: true, seqBase: this.cluster.now * 1000, wallTime: t => t })
    const state: ServicesState = { id: node.id, node, core, driver: undefined as never, held: [] }
    state.driver = new CoreDriver<ServiceEffect>({
      core,
      perform: effects => { this.#perform(state, effects) },
      timers: this.cluster.timersOf(node),
      accepting: () => this.#nodes.get(node.id) === state && this.cluster.net.state(node.id) === 'up'
    })
    this.#nodes.set(node.id, state)
    this.#feedMembers(state)
  }

  #feedMembers (state: ServicesState): void {
    const membership = state.node.core
    state.driver.drive(now => state.core.members(now, membership.members().map(toServicePeer), membership.health()))
  }

  #membershipEffects (node: SimNode, effects: Effect[]): void {
    const state = this.#nodes.get(node.id)
    if (state == null || state.node !== node) return
    if (effects.some(e => e.kind === 'event' || e.kind === 'cluster')) this.#feedMembers(state)
  }

  #resume (node: SimNode): void {
    const state = this.#nodes.get(node.id)
    if (state == null || state.node !== node) return
    state.driver.disarm()
    state.driver.drive(now => state.core.tick(now))
    const held = state.held
    state.held = []
    for (const end of held) end()
  }

  #perform (state: ServicesState, effects: ServiceEffect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'publish': for (const to of this.#nodes.keys()) if (to !== state.id) this.#send(state.id, to, e.msg); break
        case 'send': this.#send(state.id, e.to, e.msg); break
        case 'persist': this.#disk.set(state.id, structuredClone(e.state)); break
        case 'start': this.#start(state, e.service, e.instance, e.epoch, e.until); break
        case 'extend': { const p = this.#process(e.instance); if (p != null) p.until = e.until; break }
        case 'stop': { const p = this.#process(e.instance); if (p != null) this.cluster.net.schedule(this.cluster.now + STOP_MS, () => { this.#kill(state, p, 'stopped') }); break }
        default: break
      }
    }
  }

  #process (instance: string): SimProcess | undefined {
    return this.processes.find(p => p.instance === instance && p.alive)
  }

  #send (from: MemberId, to: MemberId, msg: ServiceMessage): void {
    const target = this.#nodes.get(to)
    if (target == null) return
    const copy = structuredClone(msg)
    this.cluster.net.carry(from, to, () => {
      if (this.#nodes.get(to) === target) target.driver.drive(now => target.core.receive(now, from, copy))
    })
  }

  #start (state: ServicesState, service: string, instance: string, epoch: number, until: number | null): void {
    const at = `${this.cluster.now} ms: ${state.id} starts ${instance}`
    if (this.#singletons.has(service)) {
      const others = this.live(service)
      if (others.length > 0) this.violations.push(`${at} while ${others.map(p => p.instance).join(', ')} still runs`)
      const last = this.#lastEpoch.get(service) ?? 0
      if (epoch <= last) this.violations.push(`${at} at epoch ${epoch}, not above ${last}`)
      this.#lastEpoch.set(service, Math.max(last, epoch))
    }
    const p: SimProcess = { node: state.id, service, instance, epoch, until, alive: true, startedAt: this.cluster.now }
    this.processes.push(p)
    this.cluster.net.schedule(this.cluster.now + SPAWN_MS, () => {
      if (p.alive) this.#report(state, () => { state.driver.drive(now => state.core.instanceStarted(now, instance, 1000 + this.processes.length)) })
    })
    this.#armDeadline(state, p)
  }

  /** The supervisor: kills the process at its lease's end unless extended, whatever its agent does. */
  #armDeadline (state: ServicesState, p: SimProcess): void {
    if (p.until == null || !p.alive) return
    const due = p.until
    this.cluster.net.schedule(due, () => {
      if (!p.alive) return
      if (p.until != null && p.until > due) { this.#armDeadline(state, p); return }
      this.#kill(state, p, 'killed at the end of its lease')
    })
  }

  #kill (state: ServicesState, p: SimProcess, why: string): void {
    if (!p.alive) return
    p.alive = false
    p.endedAt = this.cluster.now
    this.#report(state, () => { state.driver.drive(now => state.core.instanceExited(now, p.instance, why)) })
  }

  /** An instance's news reaches its agent now, after a freeze, or never (crashed, or a newer boot). */
  #report (state: ServicesState, deliver: () => void): void {
    if (this.#nodes.get(state.id) !== state) return
    const net = this.cluster.net.state(state.id)
    if (net === 'frozen') state.held.push(deliver)
    else if (net === 'up') deliver()
  }

  /** An instance of `service` exits by itself (a bug in the service): its agent restarts it, or gives it up after repeated failures. */
  failInstance (service: string): void {
    const p = this.live(service)[0]
    const state = p == null ? undefined : this.#nodes.get(p.node)
    if (p != null && state != null) this.#kill(state, p, 'exited with code 1')
  }

  /** The most lease rounds any current node's core has run. */
  maxLeaseRounds (): number {
    return Math.max(0, ...[...this.#nodes.values()].map(s => s.core.stats().leaseRounds))
  }

  /** A crash kills the agent's instances (the supervisors see their pipe close). */
  crashed (id: MemberId): void {
    const state = this.#nodes.get(id)
    for (const p of this.processes) if (p.node === id && p.alive) { p.alive = false; p.endedAt = this.cluster.now }
    state?.driver.stop()
  }
}
