/**
 * Fuzz of the secret-file parsers and the bearer check: the cluster key file
 * (gossip/cluster-key.ts parseClusterKey) and the control API token
 * (agent/rpc-token.ts checkToken, authorized). Only the named errors, and
 * `authorized` never throws and accepts only the exact token.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { newClusterKey, parseClusterKey } from '../../gossip/cluster-key.ts'
import { authorized, checkToken, newRpcToken } from '../../agent/rpc-token.ts'
import { mutate, runFuzz } from './fuzz.ts'

describe('fuzz: cluster key file and control API token', () => {
  it('parseClusterKey: a key or InvalidClusterKeyError', async () => {
    const corpus = [newClusterKey(), newClusterKey(), new TextEncoder().encode(new TextDecoder().decode(newClusterKey()).replace(/\n/g, '\r\n'))]
    await runFuzz('cluster-key', (rng, i) => {
      const input = i % 4 === 0 ? rng.bytes(rng.int(128)) : mutate(rng, rng.pick(corpus), corpus)
      try {
        const key = parseClusterKey(input)
        assert.equal(key.byteLength, 95)
      } catch (err) {
        if ((err as Error).name !== 'InvalidClusterKeyError') throw err
      }
    })
  })

  it('checkToken and authorized: named errors only; only the exact token authorizes', async () => {
    const token = newRpcToken()
    const good = new TextEncoder().encode(`Bearer ${token}`)
    const corpus = [good, new TextEncoder().encode(`bearer   ${token}`), new TextEncoder().encode(token)]
    await runFuzz('rpc-token', (rng) => {
      const header = new TextDecoder().decode(mutate(rng, rng.pick(corpus), corpus))
      const ok = authorized(header, token)
      const exact = /^Bearer +(\S+) *$/i.exec(header)?.[1] === token
      assert.equal(ok, exact, `header ${JSON.stringify(header)}`)
      try {
        checkToken(header)
      } catch (err) {
        if ((err as Error).name !== 'InvalidRpcTokenError') throw err
      }
    })
  })
})
