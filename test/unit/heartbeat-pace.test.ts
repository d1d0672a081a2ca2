/**
 * Gossipsub's heartbeat pace (gossip/heartbeat-pace.ts): a second while work
 * messages flow, IDLE_HEARTBEAT_MS once the topic has been quiet.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { GossipSub } from '@libp2p/gossipsub'
import { BUSY_HEARTBEAT_MS, HeartbeatPace, IDLE_HEARTBEAT_MS, QUIET_AFTER_MS } from '../../gossip/heartbeat-pace.ts'
import { createNode } from '../../gossip/index.ts'

/** What the pace touches of gossipsub: its options and its heartbeat events. */
function fakeGossipsub (): { pubsub: GossipSub, opts: { heartbeatInterval: number }, heartbeat: () => void } {
  const events = new EventTarget()
  const opts = { heartbeatInterval: 700 }
  const pubsub = Object.assign(events, { opts }) as unknown as GossipSub
  return { pubsub, opts, heartbeat: () => { events.dispatchEvent(new Event('gossipsub:heartbeat')) } }
}

describe('gossip: heartbeat pace', () => {
  it('starts at a second, slows once the topic is quiet, and speeds up with the next message', () => {
    let now = 0
    const { pubsub, opts, heartbeat } = fakeGossipsub()
    const pace = new HeartbeatPace(pubsub, () => now)
    pace.start()
    assert.equal(opts.heartbeatInterval, BUSY_HEARTBEAT_MS, 'a new agent is busy')
    now = QUIET_AFTER_MS - 1
    heartbeat()
    assert.equal(opts.heartbeatInterval, BUSY_HEARTBEAT_MS, 'not quiet long enough')
    now = QUIET_AFTER_MS
    heartbeat()
    assert.equal(opts.heartbeatInterval, IDLE_HEARTBEAT_MS)
    pace.traffic()
    assert.equal(opts.heartbeatInterval, BUSY_HEARTBEAT_MS, 'a message sets the pace back at once')
    now += QUIET_AFTER_MS / 2
    heartbeat()
    assert.equal(opts.heartbeatInterval, BUSY_HEARTBEAT_MS)
    pace.stop()
    now += QUIET_AFTER_MS
    heartbeat()
    assert.equal(opts.heartbeatInterval, BUSY_HEARTBEAT_MS, 'stopped: heartbeats no longer slow it')
  })

  it('sets the interval the installed gossipsub schedules its heartbeat by', async () => {
    const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: [] })
    try {
      const pubsub = node.services.pubsub
      const options = (pubsub as unknown as { opts?: { heartbeatInterval?: unknown } }).opts
      assert.equal(typeof options?.heartbeatInterval, 'number', 'gossipsub keeps opts.heartbeatInterval: the pace relies on it')
      let now = 0
      const pace = new HeartbeatPace(pubsub, () => now)
      pace.start()
      now = QUIET_AFTER_MS
      pubsub.dispatchEvent(new CustomEvent('gossipsub:heartbeat'))
      assert.equal(options?.heartbeatInterval, IDLE_HEARTBEAT_MS)
      pace.stop()
    } finally {
      await node.stop()
    }
  })
})
