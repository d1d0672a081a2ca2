/**
 * What the SWIM transport tells the membership core about its sends: a
 * failure (counted, then onDeliveryFailed), and for a ping that waits for a
 * dial, that it waits (onConnecting) and that it went out
 * (onSentAfterConnecting). Nothing is reported from inside send() or once
 * the transport stops, and a handler that throws is logged, never rethrown.
 */
import type { SwimPartOptions, SwimTransportHandlers, SwimTransportStats } from './swim-types.ts'
import type { DeliveryFailure, Destination, Message } from '../membership/types.ts'

type ReportsOptions = Pick<SwimPartOptions, 'counters' | 'log' | 'state'> & {
  handlers: Pick<SwimTransportHandlers, 'onDeliveryFailed' | 'onConnecting' | 'onSentAfterConnecting'>
}

export class SwimSendReports {
  private readonly options: ReportsOptions

  constructor (options: ReportsOptions) {
    this.options = options
  }

  /** A failure decided inside send(): counted now, reported on a microtask. */
  dropped (to: Destination, msg: Message, reason: DeliveryFailure, counter: keyof SwimTransportStats['dropped'], why: string): void {
    this.options.log('send to %s dropped (%s): %s', to?.id ?? to?.addrs, reason, why)
    this.options.counters.dropped[counter]++
    queueMicrotask(() => { this.call('onDeliveryFailed', () => { this.options.handlers.onDeliveryFailed(to, msg, reason) }) })
  }

  /** A failure decided in a pump (already asynchronous to send()). */
  failed (to: Destination, msg: Message, reason: DeliveryFailure, counter: keyof SwimTransportStats['dropped']): void {
    this.options.counters.dropped[counter]++
    this.call('onDeliveryFailed', () => { this.options.handlers.onDeliveryFailed(to, msg, reason) })
  }

  /** Whether anyone listens for onConnecting: if not, a ping waiting for a dial is failed at the send's deadline as any message is. */
  get connectingHeard (): boolean {
    return this.options.handlers.onConnecting != null
  }

  connecting (to: Destination, msg: Message): void {
    this.call('onConnecting', () => { this.options.handlers.onConnecting?.(to, msg) })
  }

  sentAfterConnecting (to: Destination, msg: Message): void {
    this.call('onSentAfterConnecting', () => { this.options.handlers.onSentAfterConnecting?.(to, msg) })
  }

  private call (handler: string, report: () => void): void {
    if (this.options.state() !== 'started') return
    try {
      report()
    } catch (err) {
      this.options.log.error('%s threw - %e', handler, err)
    }
  }
}
