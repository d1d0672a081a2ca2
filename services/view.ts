/**
 * The services as `agent services` and GET /v1/services show them: each
 * definition with every member's instance of it (this member's from its own
 * state, the others' from their last reports), whether it is fully placed,
 * and why members that could not run it were left out. Every converged
 * member shows the same.
 */
import type { Reports } from './reports.ts'
import type { InstanceState, MemberId, MemberServiceState, RegistryEntry, ServiceDefinition, ServicePeer } from './types.ts'

export interface InstanceView {
  /** The member's name. */
  member: string
  peerId: MemberId
  instance: string
  state: InstanceState
  epoch: number
  pid: number | null
  /** ISO time of the last state change. */
  since: string
  restarts: number
}

export interface ServiceView {
  name: string
  mode: ServiceDefinition['mode']
  replicas: number
  /** The registry version (its Lamport clock) and its writer. */
  version: number
  writer: MemberId
  definition: ServiceDefinition
  instances: InstanceView[]
  /** `placed`: as many instances running as wanted; `under-placed`: fewer members may run it than it wants; `pending`: some are still starting or moving. */
  status: 'placed' | 'under-placed' | 'pending'
  /** Members that may not run it, and why (no --allow-exec, tags, gave it up...). */
  ineligible: Array<{ member: string, peerId: MemberId, reason: string }>
}

export interface ViewInputs {
  definitions: ServiceDefinition[]
  entry: (name: string) => RegistryEntry | undefined
  self: { id: MemberId, name: string }
  selfState: MemberServiceState
  peers: ServicePeer[]
  reports: Reports
  eligibility: (definition: ServiceDefinition, member: MemberId) => string | undefined
}

export function servicesView (inputs: ViewInputs): ServiceView[] {
  const members = [{ id: inputs.self.id, name: inputs.self.name, alive: true }, ...inputs.peers.filter(p => !p.left)]
  return inputs.definitions.map(definition => {
    const entry = inputs.entry(definition.name) as RegistryEntry
    const instances: InstanceView[] = []
    const ineligible: ServiceView['ineligible'] = []
    for (const m of members) {
      const state = m.id === inputs.self.id ? inputs.selfState : inputs.reports.of(m.id)
      const i = m.alive ? state?.instances.find(x => x.service === definition.name) : undefined
      if (i != null) {
        instances.push({ member: m.name, peerId: m.id, instance: i.instance, state: i.state, epoch: i.epoch, pid: i.pid, since: new Date(i.since).toISOString(), restarts: i.restarts })
      }
      const reason = inputs.eligibility(definition, m.id)
      if (reason != null && reason !== 'not alive') ineligible.push({ member: m.name, peerId: m.id, reason })
    }
    instances.sort((a, b) => a.member < b.member ? -1 : a.member > b.member ? 1 : a.epoch - b.epoch)
    const eligible = members.filter(m => inputs.eligibility(definition, m.id) == null).length
    const running = instances.filter(i => i.state === 'running').length
    const status = running >= definition.replicas ? 'placed' : eligible < definition.replicas ? 'under-placed' : 'pending'
    return { name: definition.name, mode: definition.mode, replicas: definition.replicas, version: entry.version.clock, writer: entry.version.writer, definition, instances, status, ineligible }
  })
}
