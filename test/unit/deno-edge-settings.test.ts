import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { DENO_EDGE_ENV } from '../../deno-compat/edge-settings.ts'

describe('deno-compat edge settings', () => {
  it('`deno task agent:edge` runs the bundle on the edge profile with exactly the settings the bench measures', async () => {
    const config = JSON.parse(await readFile(new URL('../../deno-compat/deno.json', import.meta.url), 'utf8')) as { tasks: Record<string, string> }
    const task = config.tasks['agent:edge']
    const { DENO_V8_FLAGS: v8Flags, ...env } = DENO_EDGE_ENV
    for (const [name, value] of Object.entries(env)) assert.match(task, new RegExp(`(^| )${name}=${value} `), name)
    assert.ok(task.includes(` --v8-flags=${v8Flags} `), task)
    assert.match(task, / \.\.\/dist\/agent\.mjs --profile edge$/)
  })
})
