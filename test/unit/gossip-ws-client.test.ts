/**
 * On Node an agent dials WebSocket addresses with ws's client (the listener's
 * package), not the global WebSocket, undici's, whose first connection keeps
 * about 5 MB resident for good (gossip/ws-client.ts). That the dial works is
 * test/integration/gossip-transport.test.ts's WebSockets case; that messages
 * which came with the upgrade's answer are not lost, cluster-key.test.ts's
 * (a cluster key's nonce).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { WebSocket as WsClient } from 'ws'
import { webSocketClient } from '../../gossip/ws-client.ts'

describe('the WebSocket client', () => {
  it('is ws\'s on Node, not the global one', () => {
    const client = webSocketClient()
    assert.ok(client != null && client.prototype instanceof WsClient)
    assert.notEqual(client, globalThis.WebSocket)
  })
})
