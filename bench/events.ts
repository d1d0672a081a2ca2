/**
 * Records member events from every agent's `GET /v1/events` stream with the
 * time they arrived, so that detection times are measured from events rather
 * than by polling (which would both load the agents and blur the figures).
 */
import type { MemberView } from '../agent/member-view.ts'
import { watchEvents } from '../testkit/event-stream.ts'

export interface SeenEvent {
  at: number
  observer: string
  type: string
  member: MemberView
}

export class EventRecorder {
  readonly events: SeenEvent[] = []
  readonly #controllers: AbortController[] = []

  /** Subscribes to one agent; resolves once the stream is open. */
  async watch (observer: string, rpc: string): Promise<void> {
    const controller = new AbortController()
    this.#controllers.push(controller)
    await watchEvents(rpc, (type, member) => { this.events.push({ at: performance.now(), observer, type, member }) }, controller.signal)
  }

  /** First time any of `observers` reported `types` for `peerId` at or after `since`. */
  first (peerId: string, types: string[], observers: string[], since: number): number | undefined {
    return this.events.find(e => e.at >= since && e.member.peerId === peerId && types.includes(e.type) && observers.includes(e.observer))?.at
  }

  /** Time by which every observer reported one of `types` for `peerId` (after `since`), or undefined. */
  all (peerId: string, types: string[], observers: string[], since: number): number | undefined {
    let latest = since
    for (const observer of observers) {
      const at = this.events.find(e => e.at >= since && e.observer === observer && e.member.peerId === peerId && types.includes(e.type))?.at
      if (at == null) return undefined
      latest = Math.max(latest, at)
    }
    return latest
  }

  close (): void {
    for (const c of this.#controllers) c.abort()
  }
}
