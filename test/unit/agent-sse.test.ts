/**
 * The control API's event streams (agent/sse.ts): a client that does not read
 * is cut off once MAX_BACKLOG_BYTES wait for it, and everything it held is let go.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { MAX_BACKLOG_BYTES, openEventStream } from '../../agent/sse.ts'

/** A response whose client reads nothing: every write stays queued. */
function stalledResponse (): ServerResponse & { destroyed: boolean } {
  const res = { writableLength: 0, destroyed: false, ended: false } as unknown as ServerResponse & { destroyed: boolean, ended: boolean }
  Object.assign(res, {
    writeHead () { return res },
    write (text: string) { (res as { writableLength: number }).writableLength += Buffer.byteLength(text); return false },
    end () { (res as { ended: boolean }).ended = true; return res },
    destroy () { (res as { destroyed: boolean }).destroyed = true; return res }
  })
  return res
}

describe('event streams', () => {
  it('a client that reads nothing is cut off past the backlog bound, and unsubscribed', () => {
    const res = stalledResponse()
    let send: ((text: string) => void) | undefined
    let subscribed = true
    openEventStream(new EventTarget(), new EventEmitter() as IncomingMessage, res, s => { send = s; return () => { subscribed = false } })
    const record = `data: ${'x'.repeat(1000)}\n\n`
    let sent = 0
    while (!res.destroyed && sent < 10_000) { send!(record); sent++ }
    assert.equal(res.destroyed, true)
    assert.equal(subscribed, false)
    assert.ok(res.writableLength <= MAX_BACKLOG_BYTES + record.length, `${res.writableLength} bytes held`)
  })

  it('ends when the agent stops', () => {
    const res = stalledResponse() as ServerResponse & { ended: boolean }
    const agent = new EventTarget()
    let subscribed = true
    openEventStream(agent, new EventEmitter() as IncomingMessage, res, () => () => { subscribed = false })
    agent.dispatchEvent(new Event('stopped'))
    assert.equal(subscribed, false)
    assert.equal(res.ended, true)
  })
})
