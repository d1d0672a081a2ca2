/**
 * When a member's state report (a `service-state` message on the topic) goes
 * out: when what it holds changed, every stateRefreshMs while the cluster has
 * services here, and for members that joined at most every newcomerReportMs
 * (again only with services: without them a newcomer needs nothing). Not on
 * every change of the members: one report per join from every member floods
 * a cluster that starts together with N² reports, each checked by every
 * member.
 */
import type { ServicesConfig } from './config.ts'

export class ReportSchedule {
  readonly #config: Pick<ServicesConfig, 'stateRefreshMs' | 'newcomerReportMs'>
  /** The report's content changed since it was last published (true: nothing published yet). */
  #changed = true
  /** Members joined since the last report. */
  #newcomers = false
  #lastAt = -Infinity

  constructor (config: Pick<ServicesConfig, 'stateRefreshMs' | 'newcomerReportMs'>) {
    this.#config = config
  }

  /** What the report holds changed: publish with the next input. */
  changed (): void {
    this.#changed = true
  }

  /** Members joined. */
  joined (): void {
    this.#newcomers = true
  }

  /** When a report falls due by time alone, while this member has services. */
  nextAt (): number {
    return this.#lastAt + (this.#newcomers ? this.#config.newcomerReportMs : this.#config.stateRefreshMs)
  }

  /** Whether to publish a report now (`active`: services are defined or run here); a yes counts as published. */
  due (now: number, active: boolean): boolean {
    if (!active) this.#newcomers = false
    if (!this.#changed && !(active && now >= this.nextAt())) return false
    this.#changed = false
    this.#newcomers = false
    this.#lastAt = now
    return true
  }
}
