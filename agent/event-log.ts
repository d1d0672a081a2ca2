/**
 * One log record per agent event (log.ts), with stable field names: `event`
 * (the event's type), `member` (a member's name), `peerId`, `status`,
 * `cause`, `path` (each path's transport, host and state, when one is down,
 * and on every path change), `job`, `workload`, `service`, `instance`, `epoch`, … Also
 * the warning when another member carries this agent's name. Join failures
 * are logged at the 1st, 2nd, 4th, 8th… attempt (all of them at debug).
 */
import type { Agent } from './agent.ts'
import type { AgentLog } from './log.ts'
import { CLUSTER_EVENT_TYPES, MEMBER_EVENT_TYPES, type MemberView } from './member-view.ts'
import { JOB_EVENT_TYPES } from './job-events.ts'
import { SERVICE_EVENT_TYPES } from './services.ts'
import { hostOf } from '../gossip/index.ts'

/** Each path's transport, host and state: `tcp/10.0.0.5 up, ws/10.1.0.5 down`. */
function pathsOf (m: MemberView): string {
  return m.paths.map(p => `${p.transport}/${hostOf(p.addr) ?? '?'} ${p.state}`).join(', ')
}

function memberFields (m: MemberView): Record<string, unknown> {
  const fields: Record<string, unknown> = { member: m.name, peerId: m.peerId, status: m.status, incarnation: m.incarnation }
  if (m.cause != null) fields.cause = m.cause
  if (m.degraded || m.paths.some(p => p.state === 'down')) fields.path = pathsOf(m)
  return fields
}

/** A path to a member went up or down (gossip/paths.ts): `path:changed` with every path's state. */
export function logPathChange (log: AgentLog, m: MemberView): void {
  if (log.wants('info')) log.info('path:changed', { event: 'path:changed', ...memberFields(m), path: pathsOf(m) })
}

/** Logs `agent`'s events to `log` until the agent stops. */
export function logAgentEvents (agent: Agent, log: AgentLog): void {
  for (const type of MEMBER_EVENT_TYPES) {
    agent.on(type, m => { if (log.wants('info')) log.info(type, { event: type, ...memberFields(m) }) })
  }
  // Names are labels (the peer id is the identity), but people read results by name.
  agent.on('member:join', m => {
    if (m.name === agent.options.name && m.peerId !== agent.peerId) {
      log.warn(`warning: member ${m.peerId} is also named "${m.name}"; job results name each ${m.name}@<last 8 of its peer id>. Give every agent its own --name.`, { member: m.name, peerId: m.peerId })
    }
  })
  for (const type of CLUSTER_EVENT_TYPES) {
    agent.on(type, e => { log.info(type, { event: type, side: e.side, componentSize: e.componentSize, stableSize: e.stableSize, members: e.members }) })
  }
  let joinFailures = 0
  agent.on('join:failed', e => {
    joinFailures++
    const level = (joinFailures & (joinFailures - 1)) === 0 ? 'warn' : 'debug'
    log.write(level, `join failed: ${e.error}`, { event: 'join:failed', seed: e.seed, reason: e.reason, error: e.error, attempt: joinFailures, retryInMs: e.retryInMs })
  })
  agent.on('join:done', e => {
    joinFailures = 0
    log.info('join:done', { event: 'join:done', via: e.via, peerId: e.peerId })
  })
  for (const type of JOB_EVENT_TYPES) {
    // Progress is frequent and in `agent jobs`: debug.
    const level = type === 'job:progress' ? 'debug' : 'info'
    agent.on(type, j => {
      if (log.wants(level)) log.write(level, type, { event: type, job: j.id, workload: j.workload, status: j.status, tasks: j.stats.tasks, done: j.stats.done, error: j.error ?? undefined, durationMs: j.durationMs ?? undefined })
    })
  }
  for (const type of SERVICE_EVENT_TYPES) {
    agent.on(type, s => { log.info(type, { event: type, service: s.service, instance: s.instance, epoch: s.epoch, member: s.member, from: s.from, reason: s.reason }) })
  }
  agent.on('user:event', e => { log.info('user:event', { event: 'user:event', name: e.name, id: e.id, ltime: e.ltime }) })
}
