/**
 * Embedding API.
 *
 * ```ts
 * import { createAgent } from 'gossip-cluster-agent'
 * const agent = createAgent({ name: 'edge-1', join: ['/ip4/10.0.0.5/tcp/7946'] })
 * agent.on('member:failed', m => console.log(m.name, 'failed'))
 * await agent.start()
 * ```
 */
export { createAgent, Agent, AgentNotStartedError } from './agent.ts'
export type { AgentEventType, AgentEventMap, AgentEventPayload, AgentStats } from './agent.ts'
export { InvalidAgentOptionError, DEFAULT_LISTEN, DEFAULT_RPC } from './config.ts'
export type { AgentOptions } from './config.ts'
export type { MemberView, ClusterEventView, HealthView } from './member-view.ts'
export type { JoinEventView } from './join-progress.ts'
export { AgentStartError } from './start-errors.ts'
export type { MembershipConfig, ProfileName, MemberStatus, FailureCause, Side } from '../membership/index.ts'
export { JobHandle, JobRejectedError } from './work.ts'
export type { WorkloadsApi, WorkStats } from './work.ts'
export type { Workload, JobView, JobStats, JobStatus, JobKind, CountedResult, RunContext, WorkConfig } from '../workloads/index.ts'
export { InvalidServiceError } from './services.ts'
export type { ServicesApi, ServiceEventView, InProcessService, ServiceContext, StopFn } from './services.ts'
export type { ServiceDefinition, ServiceView, InstanceView, ServiceMode, ServiceCheck, ServicesStats } from '../services/index.ts'
