/**
 * Public face of the services core: keeps services (long-running instances)
 * alive across the cluster with no leader, sans-IO. See docs/services.md.
 *
 * `ServicesNode` is one member's state machine: feed it the members
 * (`members`), messages (`receive`), local instance events (`instanceStarted`,
 * `instanceExited`, `instanceUnhealthy`) and `tick` at or after
 * `nextDeadline()`; perform its effects: `publish`/`send` messages,
 * `start`/`extend`/`stop` instances, `persist` the registry, `event`.
 */
export type * from './types.ts'
export { ServicesNode } from './core.ts'
export type { ServicesNodeOptions } from './core.ts'
export { parseDefinition, InvalidServiceError, SERVICE_LIMITS, SERVICE_NAME } from './definition.ts'
export { SERVICES_DEFAULTS, servicesConfig, InvalidServicesConfigError } from './config.ts'
export type { ServicesConfig } from './config.ts'
export type { ServiceView, InstanceView } from './view.ts'
export { place, tagsMatch, loadWeight } from './placement.ts'
export { newer } from './registry.ts'
export { toServicePeer } from './peers.ts'
