/**
 * The loop that drives a sans-IO core: feed it one input with the current
 * time, perform the effects it returns, and arm one timer for the earliest
 * time it has work to do. The agent drives its membership and work cores
 * with it on the real clock; the simulator drives the same cores with it on
 * logical time, so the loop the agent runs is the loop the simulator tests.
 *
 * Nothing here does I/O: the clock and the timer come in as `DriverTimers`
 * (agent/real-timers.ts in the agent, the simulated network's queue in test/sim/).
 */

/** A core as the driver sees it: it has work due at `nextDeadline()`, done by `tick`. */
export interface DrivenCore<E> {
  tick: (now: number) => E[]
  /** The earliest time `tick` has work to do (Infinity: none; a time already past, -Infinity included: now). */
  nextDeadline: () => number
}

/** Time, and one kind of timer: the real clock in the agent, logical time in the simulator. */
export interface DriverTimers {
  now: () => number
  /**
   * Calls `fire` at time `at` or later, or a few milliseconds before it where
   * the runtime's timers count whole milliseconds (Node's); returns what cancels it.
   */
  at: (at: number, fire: () => void) => () => void
}

export interface CoreDriverOptions<E> {
  core: DrivenCore<E>
  /** Carries out one input's effects, in order. */
  perform: (effects: E[], now: number) => void
  timers: DriverTimers
  /** Whether inputs are taken now (a frozen process takes none); default always. */
  accepting?: () => boolean
}

export class CoreDriver<E> {
  readonly #core: DrivenCore<E>
  readonly #perform: (effects: E[], now: number) => void
  readonly #timers: DriverTimers
  readonly #accepting: () => boolean
  /** When the armed timer fires (Infinity: none armed). */
  #armedAt = Infinity
  #cancel: (() => void) | undefined
  #stopped = false

  constructor (opts: CoreDriverOptions<E>) {
    this.#core = opts.core
    this.#perform = opts.perform
    this.#timers = opts.timers
    this.#accepting = opts.accepting ?? (() => true)
  }

  /** Feeds one input at the current time, performs its effects, re-arms the timer. */
  drive (input: (now: number) => E[]): void {
    if (this.#stopped || !this.#accepting()) return
    const now = this.#timers.now()
    this.#perform(input(now), now)
    this.#arm(now)
  }

  /** Re-arms after the core changed outside `drive` (effects performed by the caller). */
  rearm (): void {
    if (!this.#stopped) this.#arm(this.#timers.now())
  }

  /**
   * Forgets the armed timer (a process resumed after SIGSTOP: its overdue tick
   * is driven by the caller, and the next input arms again).
   */
  disarm (): void {
    this.#cancel?.()
    this.#cancel = undefined
    this.#armedAt = Infinity
  }

  /** No input is taken and no timer fires after this. */
  stop (): void {
    this.#stopped = true
    this.disarm()
  }

  /**
   * Arms for the core's next deadline, replacing the armed timer when the
   * deadline moved either way: a timer left armed for a deadline that went
   * away (a probe's timeout, once its ack came) wakes an idle process for
   * nothing, and a wake-up costs far more than replacing a timer.
   */
  #arm (now: number): void {
    const deadline = this.#core.nextDeadline()
    // Infinity (or NaN): nothing to do; anything earlier than now, -Infinity included, is due now.
    const at = deadline < Infinity ? Math.max(deadline, now) : Infinity
    // A timer armed for now or earlier fires next anyway.
    if (at === this.#armedAt || (at === now && this.#armedAt <= now)) return
    this.disarm()
    if (at === Infinity) return
    this.#armedAt = at
    this.#cancel = this.#timers.at(at, () => {
      this.#cancel = undefined
      this.#armedAt = Infinity
      // Node counts a timer in whole milliseconds from the event loop's cached time, so one
      // may fire a little before `at`: the core is ticked at `at`, or it would find nothing
      // due and the process would wake again a millisecond later for it.
      this.drive(t => this.#core.tick(Math.max(t, at)))
    })
  }
}
