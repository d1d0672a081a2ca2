/**
 * agent/rpc-token.ts and agent/security-options.ts: the bearer check, token
 * format, loopback rule; gossip/cluster-key.ts: the key file format.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { authorized, checkToken, newRpcToken } from '../../agent/rpc-token.ts'
import { checkSecurityOptions, isLoopback } from '../../agent/security-options.ts'
import { resolveOptions } from '../../agent/config.ts'
import { newClusterKey, parseClusterKey } from '../../gossip/cluster-key.ts'

const TOKEN = 'abcdefghijklmnop0123'

describe('agent rpc token: Authorization header check', () => {
  const table: Array<[string | undefined, boolean]> = [
    [`Bearer ${TOKEN}`, true],
    [`bearer ${TOKEN}`, true],
    [`Bearer  ${TOKEN} `, true],
    [undefined, false],
    ['', false],
    ['Bearer', false],
    [`Bearer ${TOKEN}x`, false],
    [`Bearer ${TOKEN.slice(1)}`, false],
    [`Basic ${TOKEN}`, false],
    [TOKEN, false],
    [`Bearer ${TOKEN} ${TOKEN}`, false]
  ]
  for (const [header, expected] of table) {
    it(`${JSON.stringify(header)} -> ${expected}`, () => { assert.equal(authorized(header, TOKEN), expected) })
  }

  it('generated tokens are 43 base64url characters and pass checkToken; short or spaced ones do not', () => {
    const t = newRpcToken()
    assert.match(t, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(checkToken(t), t)
    assert.throws(() => checkToken('short'), { name: 'InvalidRpcTokenError' })
    assert.throws(() => checkToken('has a space in it, long enough'), { name: 'InvalidRpcTokenError' })
  })
})

describe('agent security options', () => {
  it('loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST']) assert.ok(isLoopback(h), h)
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com']) assert.ok(!isLoopback(h), h)
  })

  it('a non-loopback control API needs a token; loopback or no API does not', () => {
    assert.throws(() => resolveOptions({ rpc: '0.0.0.0:7373' }), { name: 'InvalidAgentOptionError', message: /--rpc-token/ })
    assert.throws(() => resolveOptions({ rpc: '[::]:7373' }), { name: 'InvalidAgentOptionError' })
    assert.equal(resolveOptions({ rpc: '0.0.0.0:7373', rpcToken: { token: TOKEN } }).rpcToken != null, true)
    assert.doesNotThrow(() => resolveOptions({ rpc: '127.0.0.1:7373' }))
    assert.doesNotThrow(() => checkSecurityOptions({}, false))
    assert.throws(() => resolveOptions({ clusterKey: 42 as unknown as string }), { name: 'InvalidAgentOptionError' })
  })
})

describe('gossip cluster key: file format', () => {
  it('a new key parses; CRLF and upper-case hex are accepted', () => {
    const key = newClusterKey()
    assert.equal(key.byteLength, 95)
    assert.deepEqual(parseClusterKey(key), key)
    const text = new TextDecoder().decode(key).replace(/\n/g, '\r\n').toUpperCase().replace('/KEY/SWARM/PSK/1.0.0/', '/key/swarm/psk/1.0.0/').replace('/BASE16/', '/base16/')
    assert.deepEqual(parseClusterKey(new TextEncoder().encode(text)), key)
  })

  it('anything else is InvalidClusterKeyError', () => {
    for (const bad of ['', 'hello', '/key/swarm/psk/1.0.0/\n/base16/\nabc', '/key/swarm/psk/1.0.0/\n/base64/\n' + 'a'.repeat(64)]) {
      assert.throws(() => parseClusterKey(new TextEncoder().encode(bad)), { name: 'InvalidClusterKeyError' })
    }
    assert.throws(() => parseClusterKey(Uint8Array.of(0xff, 0xfe)), { name: 'InvalidClusterKeyError' })
  })
})
