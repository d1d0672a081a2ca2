/**
 * agent/rpc-token.ts and agent/security-options.ts: the bearer check, token
 * format, loopback rule, the control API's Host, Origin and content-type
 * rules, exec needing a cluster key; gossip/cluster-key.ts: the key file format.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type AddressInfo } from 'node:net'
import { authorized, checkToken, newRpcToken } from '../../agent/rpc-token.ts'
import { checkSecurityOptions, hostAllowed, isLoopback, parseIpv4 } from '../../agent/security-options.ts'
import { resolveOptions } from '../../agent/config.ts'
import { refusal } from '../../agent/control-api.ts'
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
  const loopback = [
    '127.0.0.1', '127.1.2.3', '127.255.255.255', 'localhost', 'LOCALHOST',
    // inet_aton short forms, hex and octal parts: what `listen` takes through getaddrinfo
    '127.1', '127.0.1', '127.65535', '0x7f.1', '0X7F.0.0.1', '0x7f000001', '2130706433', '0177.0.0.1', '017700000001', '127.00.0.01',
    '::1', '0:0:0:0:0:0:0:1', '0::1', '::0:1',
    // IPv4-mapped IPv6, dotted and hex
    '::ffff:127.0.0.1', '::ffff:127.9.8.7', '::ffff:7f00:1', '::FFFF:7F00:1', '::ffff:7f01:203', '0:0:0:0:0:ffff:7f00:1'
  ]
  const notLoopback = [
    '0.0.0.0', '0', '::', '10.0.0.1', '128.0.0.1', '126.255.255.255', '1.127.0.0', '0x80.1', '2147483649',
    '::2', '::7f00:1' /* IPv4-compatible, not mapped */, '::ffff:10.0.0.1', '::ffff:a00:1', '::ffff:0:7f00:1',
    // malformed or not an address: never taken for loopback
    '', '127.0.0.1.', '127.0.0.256', '127.0.0.1.1', '127.256.1', '0x', '08.0.0.1', '127.0.0.1 ', ' 127.0.0.1', '127.-1',
    '::ffff:127.1', 'example.com', 'localhost.', 'localhost.evil.example', '127.0.0.1.nip.io', '[::1]'
  ]
  for (const h of loopback) it(`isLoopback(${JSON.stringify(h)}) -> true`, () => { assert.ok(isLoopback(h)) })
  for (const h of notLoopback) it(`isLoopback(${JSON.stringify(h)}) -> false`, () => { assert.ok(!isLoopback(h)) })

  it('the IPv4 short forms bind where parseIpv4 says: the OS resolver agrees', async () => {
    for (const h of ['127.1', '127.0.1', '127.65535', '0x7f.1', '2130706433', '0177.0.0.2', '017700000003']) {
      const server = createServer()
      await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, h, resolve) })
      const bound = (server.address() as AddressInfo).address
      await new Promise(resolve => server.close(resolve))
      const v = parseIpv4(h)!
      assert.equal(bound, [24, 16, 8, 0].map(s => (v >>> s) & 255).join('.'), h)
      assert.ok(isLoopback(bound) && isLoopback(h), h)
    }
  })

  it('--rpc 127.1 and [::ffff:7f00:1] need no token; a non-loopback address in those forms does', () => {
    assert.doesNotThrow(() => resolveOptions({ rpc: '127.1:7373' }))
    assert.doesNotThrow(() => resolveOptions({ rpc: '[::ffff:7f00:1]:7373' }))
    assert.doesNotThrow(() => resolveOptions({ rpc: '[::ffff:127.0.0.1]:7373' }))
    assert.throws(() => resolveOptions({ rpc: '[::ffff:a00:1]:7373' }), { name: 'InvalidAgentOptionError', message: /--rpc-token/ })
    assert.throws(() => resolveOptions({ rpc: '0x0a.1:7373' }), { name: 'InvalidAgentOptionError', message: /--rpc-token/ })
  })

  it('a non-loopback control API needs a token; loopback or no API does not', () => {
    assert.throws(() => resolveOptions({ rpc: '0.0.0.0:7373' }), { name: 'InvalidAgentOptionError', message: /--rpc-token/ })
    assert.throws(() => resolveOptions({ rpc: '[::]:7373' }), { name: 'InvalidAgentOptionError' })
    assert.equal(resolveOptions({ rpc: '0.0.0.0:7373', rpcToken: { token: TOKEN } }).rpcToken != null, true)
    assert.doesNotThrow(() => resolveOptions({ rpc: '127.0.0.1:7373' }))
    assert.doesNotThrow(() => checkSecurityOptions({}, false))
    assert.throws(() => resolveOptions({ clusterKey: 42 as unknown as string }), { name: 'InvalidAgentOptionError' })
  })

  it('allowExec needs a cluster key unless allowExecOpen; the error names both flags', () => {
    assert.throws(() => resolveOptions({ allowExec: true }), (err: Error) => {
      assert.equal(err.name, 'InvalidAgentOptionError')
      assert.match(err.message, /--allow-exec\b.*--cluster-key FILE/)
      assert.match(err.message, /--allow-exec-open/)
      return true
    })
    assert.equal(resolveOptions({ allowExec: true, clusterKey: '/etc/cluster/cluster.key' }).allowExec, true)
    assert.equal(resolveOptions({ allowExec: true, clusterKey: new Uint8Array(95) }).allowExec, true)
    assert.equal(resolveOptions({ allowExecOpen: true }).allowExec, true, 'allowExecOpen alone enables exec')
    assert.equal(resolveOptions({ allowExec: true, allowExecOpen: true }).allowExec, true)
    assert.equal(resolveOptions({}).allowExec, false)
    assert.equal(resolveOptions({ clusterKey: '/k' }).allowExec, false)
    assert.throws(() => checkSecurityOptions({ allowExec: true }, false), { name: 'InvalidAgentOptionError' })
  })
})

describe('control API: Host, Origin and content type', () => {
  it('Host names: loopback and localhost always; the bound address in any spelling; any address on a wildcard bind', () => {
    const table: Array<[string, string[], boolean]> = [
      ['127.0.0.1', ['127.0.0.1'], true],
      ['localhost', ['127.0.0.1'], true],
      ['LocalHost', ['127.0.0.1'], true],
      ['::1', ['127.0.0.1'], true],
      ['127.1', ['127.0.0.1'], true],
      ['::ffff:7f00:1', ['127.0.0.1'], true],
      ['localhost', ['10.0.0.5'], true],
      ['10.0.0.5', ['10.0.0.5'], true],
      ['::ffff:a00:5', ['10.0.0.5'], true],
      ['10.5', ['10.0.0.5'], true],
      ['node5.internal', ['node5.internal', '10.0.0.5'], true],
      ['NODE5.internal', ['node5.internal', '10.0.0.5'], true],
      ['10.0.0.6', ['10.0.0.5'], false],
      ['10.0.0.6', ['0.0.0.0'], true],
      ['fe80::1', ['::'], true],
      ['evil.example', ['127.0.0.1'], false],
      ['evil.example', ['0.0.0.0'], false],
      ['127.0.0.1.nip.io', ['127.0.0.1'], false],
      ['localhost.evil.example', ['127.0.0.1'], false],
      ['', ['127.0.0.1'], false]
    ]
    for (const [name, bound, expected] of table) assert.equal(hostAllowed(name, bound), expected, `${name} on ${bound.join(',')}`)
  })

  const bound = ['127.0.0.1']
  const status = (method: string, headers: Record<string, string>): number | undefined => refusal({ method, headers }, bound)?.status
  it('Host header values: 403 unless they name this API', () => {
    for (const host of ['127.0.0.1:7373', '127.0.0.1', 'localhost:7373', 'localhost', '[::1]:7373', '127.1:7373', '[::ffff:7f00:1]:7373', '127.0.0.1:9000']) {
      assert.equal(status('GET', { host }), undefined, host)
    }
    for (const host of ['evil.example', 'evil.example:7373', 'attacker.localhost:7373', '127.0.0.1.evil.example', '127.0.0.1:7373@evil', '[evil]:7373', '::1', '127.0.0.1:', '127.0.0.1:7373:1', ' 127.0.0.1', '']) {
      assert.equal(status('GET', { host }), 403, host)
    }
    assert.equal(status('GET', {}), 403, 'no Host at all (HTTP/1.0)')
    assert.match(refusal({ method: 'GET', headers: { host: 'evil.example' } }, bound)!.message, /does not name this control API/)
  })

  it('Origin: 403 unless it is the API\'s own', () => {
    const host = '127.0.0.1:7373'
    assert.equal(status('POST', { host, origin: 'http://127.0.0.1:7373', 'content-type': 'application/json' }), undefined)
    for (const origin of ['http://evil.example', 'null', 'http://127.0.0.1:8080', 'https://127.0.0.1:7373', 'http://localhost:7373', 'http://127.0.0.1:7373, http://evil.example', '']) {
      assert.equal(status('POST', { host, origin, 'content-type': 'application/json' }), 403, origin)
      assert.equal(status('GET', { host, origin }), 403, `GET ${origin}`)
    }
    assert.match(refusal({ method: 'POST', headers: { host, origin: 'http://evil.example' } }, bound)!.message, /cross-origin/)
  })

  it('POST and DELETE need content-type: application/json (415); GET does not', () => {
    const host = '127.0.0.1:7373'
    for (const type of ['application/json', 'APPLICATION/JSON', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json; charset="utf-8"']) {
      assert.equal(status('POST', { host, 'content-type': type }), undefined, type)
      assert.equal(status('DELETE', { host, 'content-type': type }), undefined, `DELETE ${type}`)
    }
    for (const type of [undefined, '', 'text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/json-seq', 'application/json; charset=utf-16', 'text/json']) {
      const headers: Record<string, string> = type == null ? { host } : { host, 'content-type': type }
      assert.equal(status('POST', headers), 415, `POST ${String(type)}`)
      assert.equal(status('DELETE', headers), 415, `DELETE ${String(type)}`)
    }
    assert.equal(status('GET', { host }), undefined)
    assert.match(refusal({ method: 'POST', headers: { host, 'content-type': 'text/plain' } }, bound)!.message, /content-type: application\/json/)
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
