import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULTS, fromPartial, InvalidWorkConfigError } from '../../workloads/config.ts'

describe('workloads config', () => {
  it('defaults validate', () => {
    assert.deepEqual(fromPartial(), { ...DEFAULTS })
    assert.equal(fromPartial({ slots: 2 }).slots, 2)
  })

  it('rejects bad fields by name with InvalidWorkConfigError (table)', () => {
    const table: Array<[Partial<typeof DEFAULTS>, RegExp]> = [
      [{ slots: 0 }, /slots/],
      [{ slots: 1.5 }, /slots/],
      [{ leaseMs: -1 }, /leaseMs/],
      [{ leaseMs: Number.NaN }, /leaseMs/],
      [{ leaseRenewMs: 6000, leaseMs: 10_000 }, /leaseRenewMs/],
      [{ maxTaskAttempts: 0 }, /maxTaskAttempts/],
      [{ offerIntervalMs: 0 }, /offerIntervalMs/],
      [{ replicas: 0.5 }, /replicas/]
    ]
    for (const [partial, pattern] of table) {
      assert.throws(() => fromPartial(partial), (err: Error) => err.name === 'InvalidWorkConfigError' && err instanceof InvalidWorkConfigError && pattern.test(err.message), JSON.stringify(partial))
    }
  })
})
