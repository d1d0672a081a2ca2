/**
 * Records member events from every agent's `GET /v1/events` stream with the
 * time they arrived, so that detection times are measured from events rather
 * than by polling (which would both load the agents and blur the figures).
 */
import type { MemberView } from '../agent/member-view.ts'

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
    const res = await fetch(`http://${rpc}/v1/events`, { signal: controller.signal })
    if (!res.ok || res.body == null) throw new Error(`events from ${observer}: HTTP ${res.status}`)
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    void (async () => {
      let buffer = ''
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) return
          buffer += value
          let end: number
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const type = /^event: (.+)$/m.exec(block)?.[1]
            const data = /^data: (.+)$/m.exec(block)?.[1]
            if (type != null && data != null) {
              this.events.push({ at: performance.now(), observer, type, member: JSON.parse(data) as MemberView })
            }
          }
        }
      } catch {
        // the agent went away or we aborted: the stream simply ends
      }
    })()
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
