/**
 * An agent's `GET /v1/events` stream (server-sent events), read from
 * outside its process: each event's type and member, as they arrive.
 */
import type { MemberView } from '../agent/member-view.ts'

export type OnEvent = (type: string, member: MemberView) => void

/** Calls `onEvent` for every event the agent at `rpc` streams until `signal` aborts or the agent goes away. Resolves once the stream is open. */
export async function watchEvents (rpc: string, onEvent: OnEvent, signal: AbortSignal): Promise<void> {
  const res = await fetch(`http://${rpc}/v1/events`, { signal })
  if (!res.ok || res.body == null) throw new Error(`GET /v1/events on ${rpc} answered ${res.status}`)
  // The agent went away (crashed, restarted) or the watch was aborted: the stream just ends.
  readEvents(res.body, onEvent).catch(() => {})
}

/** Reads an open /v1/events body to its end, calling `onEvent` for each event; rejects if the stream breaks. */
export async function readEvents (body: NonNullable<Response['body']>, onEvent: OnEvent): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
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
      if (type != null && data != null) onEvent(type, JSON.parse(data) as MemberView)
    }
  }
}
