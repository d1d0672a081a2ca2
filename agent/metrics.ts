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
import type { Counter, Gauge, Registry } from 'prom-client'
import type { AgentStats } from './agent.ts'
import type { HealthView, MemberView } from './member-view.ts'
import type { ServiceView } from '../services/index.ts'
import { hostOf, RTT_BUCKETS_MS } from '../gossip/index.ts'

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

export interface AgentMetrics {
  contentType: string
  scrape: () => Promise<string>
}

const SIDE = { majority: 1, unknown: 0, minority: -1 } as const
const EVENT_LOOP_SAMPLE_MS = 1000
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
  // Event-loop delay sampled once a second, not prom-client's every 10 ms: that timer alone
  // costs an idle agent as much CPU as its membership traffic (0.5 % of a core, measured).
  prom.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })
  let r: Reading | undefined
  const reading = (): Reading => {
    if (r != null) return r
    const members = source.members()
    return (r = { members, labels: labelsOf(members), stats: source.stats(), health: source.health(), services: source.services.list() })
  }

  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, r: Reading) => void): void => {
    registry.registerMetric(new prom.Gauge({ name, help, labelNames, registers: [], collect () { this.reset(); fill(this, reading()) } }))
  }
  // A counter the agent already keeps: set to its total at each scrape.
  const counter = (name: string, help: string, labelNames: string[], totals: (r: Reading) => Array<[Record<string, string>, number]>): void => {
    registry.registerMetric(new prom.Counter({
      name, help, labelNames, registers: [],
      collect (this: Counter) { this.reset(); for (const [labels, value] of totals(reading())) this.inc(labels, value) }
    }))
  }

  gauge('agent_members', 'Members in this agent\'s view by status, itself included.', ['status'], (g, { health }) => {
    for (const [status, n] of Object.entries(health.members)) g.set({ status }, n)
  })
  gauge('agent_member_up', 'Per member: 1 while alive or suspect, 0 once failed or left.', ['member'], (g, { members, labels }) => {
    for (const m of members) g.set({ member: labels.get(m.peerId) as string }, UP.has(m.status) ? 1 : 0)
  })
  gauge('agent_health_score', 'Lifeguard local health: 0 is healthy; higher stretches this agent\'s timeouts.', [], (g, { stats }) => { g.set(stats.membership.localHealth) })
  gauge('agent_partition_side', 'This agent\'s side of the last stable membership: 1 majority, 0 unknown, -1 minority.', [], (g, { health }) => { g.set(SIDE[health.side]) })
  gauge('agent_path_up', 'Per path to a member (transport, host): 1 up, 0 down or not yet tried.', ['member', 'transport', 'host'], (g, { members, labels }) => {
    for (const m of members) for (const p of m.paths) g.set({ member: labels.get(m.peerId) as string, transport: p.transport, host: hostOf(p.addr) ?? '' }, p.state === 'up' ? 1 : 0)
  })
  gauge('agent_path_rtt_seconds', 'Last SWIM ping round trip over each path to a member.', ['member', 'transport', 'host'], (g, { members, labels }) => {
    for (const m of members) for (const p of m.paths) if (p.rttMs != null) g.set({ member: labels.get(m.peerId) as string, transport: p.transport, host: hostOf(p.addr) ?? '' }, Math.round(p.rttMs * 1000) / 1e6)
  })
  gauge('agent_task_slots', 'This agent\'s task slots: running a task, free, and granted tasks waiting for one.', ['state'], (g, { stats }) => {
    const { total, running, waiting } = stats.work.slots
    g.set({ state: 'running' }, running)
    g.set({ state: 'free' }, Math.max(0, total - running))
    g.set({ state: 'waiting' }, waiting)
  })
  gauge('agent_service_instances', 'Instances of each service across the cluster, by state.', ['service', 'state'], (g, { services }) => {
    for (const s of services) for (const i of s.instances) g.inc({ service: s.name, state: i.state })
  })

  counter('agent_suspicions_total', 'Suspicions this agent raised.', [], ({ stats }) => [[{}, stats.membership.suspicionsRaised]])
  counter('agent_refutations_total', 'Times this agent refuted a suspicion or failure about itself.', [], ({ stats }) => [[{}, stats.membership.refutations]])
  counter('agent_messages_total', 'SWIM messages by type and direction, and work-transport messages (type work-topic, work-direct).', ['type', 'direction'], ({ stats }) => {
    const { in: received, out: sent } = stats.transport.messagesByType
    const work = stats.work.transport
    return [
      ...Object.entries(received).map(([type, n]): [Record<string, string>, number] => [{ type, direction: 'in' }, n]),
      ...Object.entries(sent).map(([type, n]): [Record<string, string>, number] => [{ type, direction: 'out' }, n]),
      [{ type: 'work-topic', direction: 'in' }, work.topicIn], [{ type: 'work-topic', direction: 'out' }, work.topicOut],
      [{ type: 'work-direct', direction: 'in' }, work.directIn], [{ type: 'work-direct', direction: 'out' }, work.directOut]
    ]
  })
  counter('agent_bytes_total', 'SWIM frame bytes by direction.', ['direction'], ({ stats }) => [[{ direction: 'in' }, stats.transport.bytesIn], [{ direction: 'out' }, stats.transport.bytesOut]])
  counter('agent_jobs_total', 'Jobs coordinated here: accepted, taken over, and ended by status.', ['status'], ({ stats }) => {
    const { accepted, takenOver, done, failed, cancelled } = stats.work.jobs
    return [[{ status: 'accepted' }, accepted], [{ status: 'taken-over' }, takenOver], [{ status: 'done' }, done], [{ status: 'failed' }, failed], [{ status: 'cancelled' }, cancelled]]
  })
  counter('agent_tasks_total', 'Tasks this agent ran, by outcome.', ['outcome'], ({ stats }) => {
    const w = stats.work.worker
    return [[{ outcome: 'finished' }, w.tasksFinished], [{ outcome: 'aborted' }, w.tasksAborted], [{ outcome: 'refused' }, w.tasksRefused]]
  })
  counter('agent_dropped_messages_total', 'Messages dropped, by reason (rate-limited, forged, malformed, …); see docs/security.md.', ['reason'], ({ stats }) => droppedByReason(stats))

  // The transport keeps the histogram (gossip/rtt-histogram.ts); prom-client writes it out.
  registry.registerMetric({
    name: 'agent_probe_duration_seconds',
    get: () => {
      const h = reading().stats.transport.pingRtt
      let cumulative = 0
      const values = RTT_BUCKETS_MS.map((bound, i) => {
        cumulative += h.counts[i]
        return { metricName: 'agent_probe_duration_seconds_bucket', labels: { le: bound / 1000 }, value: cumulative }
      })
      values.push({ metricName: 'agent_probe_duration_seconds_bucket', labels: { le: '+Inf' as unknown as number }, value: h.count })
      return {
        name: 'agent_probe_duration_seconds',
        help: 'Round trips of direct SWIM probes (ping to ack).',
        type: 'histogram',
        values: [...values, { metricName: 'agent_probe_duration_seconds_sum', labels: {}, value: h.sumMs / 1000 }, { metricName: 'agent_probe_duration_seconds_count', labels: {}, value: h.count }],
        aggregator: 'sum'
      }
    }
  } as unknown as Gauge)

  return {
    contentType: registry.contentType,
    scrape: async () => {
      try { return await registry.metrics() } finally { r = undefined }
    }
  }
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
    'rate-limited': swim.rateLimited + work.rateLimited,
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

/** GET /metrics on a listener of its own (`--metrics-addr`): no token, nothing else served. */
export async function serveMetrics (source: MetricsSource, at: { host: string, port: number }): Promise<{ host: string, port: number, close: () => void }> {
  const server: Server = createServer((req, res) => {
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(at.port, at.host, () => { server.off('error', reject); resolve() })
  })
  const bound = server.address() as AddressInfo
  return { host: bound.address, port: bound.port, close: () => { server.close(); server.closeAllConnections() } }
}
