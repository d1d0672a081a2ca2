/**
 * Prometheus metrics (GET /metrics on the control API, and with
 * `--metrics-addr` on a listener of their own) through prom-client, the
 * ecosystem's library: its registry, metric types and text exposition.
 *
 * Every value is read at scrape time from what the agent already keeps (its
 * members, stats(), health(), services), so an agent that is never scraped
 * pays nothing: prom-client itself is loaded at the first scrape. Per-member
 * series are rebuilt at each scrape, so a reaped member's series are gone.
 * The names follow Prometheus conventions and are listed in docs/observability.md.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RecordableHistogram } from 'node:perf_hooks'
import type { Metric } from 'prom-client'
import type { AgentStats } from './agent.ts'
import type { HealthView, MemberView } from './member-view.ts'
import type { ServiceView } from '../services/index.ts'
import { hostOf, RTT_BUCKETS_MS } from '../gossip/index.ts'
import { HTTP_SERVER_OPTIONS } from './http-options.ts'
import { timerLateness } from './real-timers.ts'

/** What the metrics read: an Agent, or a stand-in (bench/metrics.ts). */
export interface MetricsSource {
  members: () => MemberView[]
  stats: () => AgentStats
  health: () => HealthView
  services: { list: () => ServiceView[] }
}

/** One scrape's reading of the source, shared by every collector. */
interface Reading {
  members: MemberView[]
  /** Each member's `member` label, by peer id (labelsOf). */
  labels: Map<string, string>
  stats: AgentStats
  health: HealthView
  services: ServiceView[]
}

/** One series of a family, as prom-client's exposition takes it. */
interface Sample {
  labels: Record<string, string>
  value: number
  /** A histogram's `_bucket`, `_sum` or `_count`. */
  metricName?: string
}

export interface AgentMetrics {
  contentType: string
  scrape: () => Promise<string>
}

const SIDE = { majority: 1, unknown: 0, minority: -1 } as const
/** prom-client's event-loop monitor, where the cores' timers cannot stand in for it (no histogram in the runtime). */
const EVENT_LOOP_SAMPLE_MS = 5000
/** Its monitor's timer, when they can: never (it is armed all the same). */
const NEVER_MS = 2 ** 31 - 1
const UP = new Set(['alive', 'suspect'])

const built = new WeakMap<MetricsSource, Promise<AgentMetrics>>()

/** The source's metrics, built at the first call (prom-client is loaded then). */
export async function metricsOf (source: MetricsSource): Promise<AgentMetrics> {
  let metrics = built.get(source)
  if (metrics == null) built.set(source, metrics = build(source))
  return await metrics
}

async function build (source: MetricsSource): Promise<AgentMetrics> {
  const prom = await import('prom-client')
  const registry = new prom.Registry()
  // The event-loop delay's statistics come from how late the cores' timers fire (real-timers.ts),
  // not from prom-client's monitor: its timer (every 10 ms by default) wakes an idle agent for
  // nothing else, costing as much CPU as its membership traffic, and every 5 s still a wake-up
  // more than the agent's own. nodejs_eventloop_lag_seconds is measured at each scrape.
  const lateness = timerLateness()
  prom.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: lateness == null ? EVENT_LOOP_SAMPLE_MS : NEVER_MS })
  let r: Reading | undefined
  const reading = (): Reading => {
    if (r != null) return r
    const members = source.members()
    return (r = { members, labels: labelsOf(members), stats: source.stats(), health: source.health(), services: source.services.list() })
  }

  // The agent's own families hand prom-client their values as they are read (a
  // collected metric: `get` returns the family), not through Gauge.set and
  // Counter.inc, which hash and check every label set at every scrape.
  const family = (name: string, help: string, type: 'gauge' | 'counter', values: (r: Reading) => Sample[]): void => {
    registry.registerMetric({ name, get: () => ({ name, help, type, values: values(reading()), aggregator: 'sum' }) } as unknown as Metric)
  }
  const memberLabel = (r: Reading, m: MemberView): string => r.labels.get(m.peerId) as string
  if (lateness != null) {
    // prom-client's names and meaning, read from the cores' timers since the last scrape.
    for (const [name, help, value] of loopDelayStats(lateness)) {
      registry.removeSingleMetric(name)
      family(name, help, 'gauge', () => [{ labels: {}, value: value() / 1e9 }])
    }
  }

  family('agent_members', 'Members in this agent\'s view by status, itself included.', 'gauge', ({ health }) =>
    Object.entries(health.members).map(([status, value]) => ({ labels: { status }, value })))
  family('agent_member_up', 'Per member: 1 while alive or suspect, 0 once failed or left.', 'gauge', r =>
    r.members.map(m => ({ labels: { member: memberLabel(r, m) }, value: UP.has(m.status) ? 1 : 0 })))
  family('agent_health_score', 'Lifeguard local health: 0 is healthy; higher stretches this agent\'s timeouts.', 'gauge', ({ stats }) => [{ labels: {}, value: stats.membership.localHealth }])
  family('agent_partition_side', 'This agent\'s side of the last stable membership: 1 majority, 0 unknown, -1 minority.', 'gauge', ({ health }) => [{ labels: {}, value: SIDE[health.side] }])
  family('agent_path_up', 'Per path to a member (transport, host): 1 up, 0 down or not yet tried.', 'gauge', r =>
    r.members.flatMap(m => m.paths.map(p => ({ labels: { member: memberLabel(r, m), transport: p.transport, host: hostOf(p.addr) ?? '' }, value: p.state === 'up' ? 1 : 0 }))))
  family('agent_path_rtt_seconds', 'Last SWIM ping round trip over each path to a member.', 'gauge', r =>
    r.members.flatMap(m => m.paths.flatMap(p => p.rttMs == null ? [] : [{ labels: { member: memberLabel(r, m), transport: p.transport, host: hostOf(p.addr) ?? '' }, value: Math.round(p.rttMs * 1000) / 1e6 }])))
  family('agent_task_slots', 'This agent\'s task slots: running a task, free, and granted tasks waiting for one.', 'gauge', ({ stats }) => {
    const { total, running, waiting } = stats.work.slots
    return [{ labels: { state: 'running' }, value: running }, { labels: { state: 'free' }, value: Math.max(0, total - running) }, { labels: { state: 'waiting' }, value: waiting }]
  })
  family('agent_service_instances', 'Instances of each service across the cluster, by state.', 'gauge', ({ services }) => {
    const counts = new Map<string, Sample>()
    for (const s of services) {
      for (const i of s.instances) {
        const key = `${s.name}\n${i.state}`
        const sample = counts.get(key) ?? { labels: { service: s.name, state: i.state }, value: 0 }
        sample.value++
        counts.set(key, sample)
      }
    }
    return [...counts.values()]
  })

  // Counters the agent already keeps: their totals at each scrape.
  const totals = (pairs: Array<[Record<string, string>, number]>): Sample[] => pairs.map(([labels, value]) => ({ labels, value }))
  family('agent_suspicions_total', 'Suspicions this agent raised.', 'counter', ({ stats }) => [{ labels: {}, value: stats.membership.suspicionsRaised }])
  family('agent_suspicions_held_total', 'Suspicions held past their timeout because refutations lately took about that long (docs/design.md).', 'counter', ({ stats }) => [{ labels: {}, value: stats.membership.suspicionsHeld }])
  family('agent_refutations_total', 'Times this agent refuted a suspicion or failure about itself.', 'counter', ({ stats }) => [{ labels: {}, value: stats.membership.refutations }])
  family('agent_messages_total', 'SWIM messages by type and direction, and work-transport messages (type work-topic, work-direct).', 'counter', ({ stats }) => {
    const { in: received, out: sent } = stats.transport.messagesByType
    const work = stats.work.transport
    return totals([
      ...Object.entries(received).map(([type, n]): [Record<string, string>, number] => [{ type, direction: 'in' }, n]),
      ...Object.entries(sent).map(([type, n]): [Record<string, string>, number] => [{ type, direction: 'out' }, n]),
      [{ type: 'work-topic', direction: 'in' }, work.topicIn], [{ type: 'work-topic', direction: 'out' }, work.topicOut],
      [{ type: 'work-direct', direction: 'in' }, work.directIn], [{ type: 'work-direct', direction: 'out' }, work.directOut]
    ])
  })
  family('agent_bytes_total', 'SWIM frame bytes by direction.', 'counter', ({ stats }) => totals([[{ direction: 'in' }, stats.transport.bytesIn], [{ direction: 'out' }, stats.transport.bytesOut]]))
  family('agent_jobs_total', 'Jobs coordinated here: accepted, taken over, and ended by status.', 'counter', ({ stats }) => {
    const { accepted, takenOver, done, failed, cancelled } = stats.work.jobs
    return totals([[{ status: 'accepted' }, accepted], [{ status: 'taken-over' }, takenOver], [{ status: 'done' }, done], [{ status: 'failed' }, failed], [{ status: 'cancelled' }, cancelled]])
  })
  family('agent_tasks_total', 'Tasks this agent ran, by outcome.', 'counter', ({ stats }) => {
    const w = stats.work.worker
    return totals([[{ outcome: 'finished' }, w.tasksFinished], [{ outcome: 'aborted' }, w.tasksAborted], [{ outcome: 'refused' }, w.tasksRefused]])
  })
  family('agent_dropped_messages_total', 'Messages dropped, by reason (rate-limited, forged, malformed, …); see docs/security.md.', 'counter', ({ stats }) => totals(droppedByReason(stats)))

  // The transport keeps the histogram (gossip/rtt-histogram.ts); prom-client writes it out.
  registry.registerMetric({
    name: 'agent_probe_duration_seconds',
    get: () => {
      const h = reading().stats.transport.pingRtt
      let cumulative = 0
      const values: Sample[] = RTT_BUCKETS_MS.map((bound, i) => {
        cumulative += h.counts[i]
        return { metricName: 'agent_probe_duration_seconds_bucket', labels: { le: String(bound / 1000) }, value: cumulative }
      })
      values.push({ metricName: 'agent_probe_duration_seconds_bucket', labels: { le: '+Inf' }, value: h.count })
      return {
        name: 'agent_probe_duration_seconds',
        help: 'Round trips of direct SWIM probes (ping to ack).',
        type: 'histogram',
        values: [...values, { metricName: 'agent_probe_duration_seconds_sum', labels: {}, value: h.sumMs / 1000 }, { metricName: 'agent_probe_duration_seconds_count', labels: {}, value: h.count }],
        aggregator: 'sum'
      }
    }
  } as unknown as Metric)

  return {
    contentType: registry.contentType,
    scrape: async () => {
      try { return await registry.metrics() } finally { r = undefined; lateness?.reset() }
    }
  }
}

/** The event-loop delay statistics prom-client reports, read from `h` (ns). */
function loopDelayStats (h: RecordableHistogram): Array<[string, string, () => number]> {
  return [
    ['nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.', () => h.count === 0 ? 0 : h.min],
    ['nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.', () => h.max],
    ['nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.', () => h.count === 0 ? 0 : h.mean],
    ['nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.', () => h.count === 0 ? 0 : h.stddev],
    ['nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.', () => h.percentile(50)],
    ['nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.', () => h.percentile(90)],
    ['nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.', () => h.percentile(99)]
  ]
}

/** Each member's label, by peer id: its name, or name@<last 8 of its peer id> when another member shares the name. Once per scrape, not once per series. */
function labelsOf (members: MemberView[]): Map<string, string> {
  const count = new Map<string, number>()
  for (const m of members) count.set(m.name, (count.get(m.name) ?? 0) + 1)
  return new Map(members.map(m => [m.peerId, (count.get(m.name) ?? 0) > 1 ? `${m.name}@${m.peerId.slice(-8)}` : m.name]))
}

function droppedByReason (stats: AgentStats): Array<[Record<string, string>, number]> {
  const swim = stats.transport.dropped
  const work = stats.work.transport.dropped
  const forgedWork = [stats.work.coordinator.forged, stats.work.worker.forged].flatMap(f => Object.values(f)).reduce((a, b) => a + b, 0)
  const reasons: Record<string, number> = {
    'rate-limited': swim.rateLimited + work.rateLimited + stats.membership.syncsDeclined,
    forged: stats.membership.signaturesRejected + work.unsigned + forgedWork,
    malformed: swim.malformed + work.malformed,
    oversized: swim.oversized + work.oversized,
    'unsupported-version': swim.unsupportedVersion,
    backpressure: swim.backpressure + work.backpressure,
    'send-failed': swim.sendFailed + work.sendFailed,
    'handshake-refused': stats.security.handshakeFailures
  }
  return Object.entries(reasons).map(([reason, n]) => [{ reason }, n])
}

/** This listener takes no token: its connections are bounded. */
const MAX_SCRAPE_CONNECTIONS = 64

/** GET /metrics on a listener of its own (`--metrics-addr`): no token, nothing else served. */
export async function serveMetrics (source: MetricsSource, at: { host: string, port: number }): Promise<{ host: string, port: number, close: () => void }> {
  const server: Server = createServer(HTTP_SERVER_OPTIONS, (req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n')
      return
    }
    metricsOf(source).then(async m => {
      const body = await m.scrape()
      res.writeHead(200, { 'content-type': m.contentType }).end(body)
    }).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`)
    })
  })
  server.maxConnections = MAX_SCRAPE_CONNECTIONS
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(at.port, at.host, () => { server.off('error', reject); resolve() })
  })
  const bound = server.address() as AddressInfo
  return { host: bound.address, port: bound.port, close: () => { server.close(); server.closeAllConnections() } }
}
