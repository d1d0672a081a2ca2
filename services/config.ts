/**
 * Timing of the services core. Every duration is in core milliseconds.
 *
 * The singleton lease (see lease.ts) bounds failover: after a holder is
 * killed, the granters' promises run out at most leaseMs after its last
 * renewal, so a replacement can start about leaseMs after the crash (sooner
 * than membership's crash verdict plus a round trip would allow anyway for
 * the default LAN profile). A holder whose renewals fail stops its instance,
 * and its supervisor kills it at the lease's end even if the agent is frozen.
 */
export interface ServicesConfig {
  /** How long a majority's grant lets a singleton run. */
  leaseMs: number
  /** A holder asks for renewal this often (several renewals fit in a lease, so one lost round does not stop the instance). */
  renewMs: number
  /** Placement is re-checked this often, besides on every change. */
  reconcileMs: number
  /** A member with services re-announces its state this often, besides on every change. */
  stateRefreshMs: number
  /**
   * A member with services announces its state to members that joined, at most
   * this often: a start of many members costs each one report per interval,
   * not one per join (every report floods the whole cluster).
   */
  newcomerReportMs: number
  /** Restarts of one instance within restartWindowMs before the member gives the service up (it moves elsewhere). */
  maxRestartsBeforeMove: number
  restartWindowMs: number
  /** How long a member that gave a service up stays ineligible for it. */
  blockMs: number
}

export const SERVICES_DEFAULTS: Readonly<ServicesConfig> = Object.freeze({
  leaseMs: 1500,
  renewMs: 300,
  reconcileMs: 250,
  stateRefreshMs: 5000,
  newcomerReportMs: 1000,
  maxRestartsBeforeMove: 3,
  restartWindowMs: 60_000,
  blockMs: 60_000
})

export class InvalidServicesConfigError extends Error {
  override name = 'InvalidServicesConfigError'
}

export function servicesConfig (partial: Partial<ServicesConfig> = {}): ServicesConfig {
  const config = { ...SERVICES_DEFAULTS, ...partial }
  for (const [key, value] of Object.entries(config)) {
    if (!Number.isFinite(value) || value <= 0) throw new InvalidServicesConfigError(`services.${key} must be a positive number, got ${String(value)}`)
  }
  if (config.renewMs * 2 >= config.leaseMs) throw new InvalidServicesConfigError('services.renewMs must be under half of services.leaseMs (a lost renewal must not stop the instance)')
  return config
}
