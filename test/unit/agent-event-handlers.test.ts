import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventHandlers, parseHandler } from '../../agent/event-handlers.ts'

describe('--event-handler specs', () => {
  it('parse filters and commands', () => {
    assert.deepEqual(parseHandler('./on-event.sh'), { filters: [], command: './on-event.sh' })
    assert.deepEqual(parseHandler('member-join,user:deploy=./deploy.sh --now'), {
      filters: [{ type: 'member-join', name: undefined }, { type: 'user', name: 'deploy' }],
      command: './deploy.sh --now'
    })
    assert.deepEqual(parseHandler('echo a=b'), { filters: [], command: 'echo a=b' }, 'a command with = is not a filter')
  })
  it('refuse unknown filters and empty commands (table)', () => {
    const table: Array<[string, RegExp]> = [
      ['member-joined=x', /unknown event filter "member-joined"/],
      ['member-join:web=x', /only user and query filters take a name/],
      ['user=', /has no command/],
      ['  ', /has no command/]
    ]
    for (const [spec, pattern] of table) assert.throws(() => parseHandler(spec), pattern, spec)
  })
})

describe('event handlers run', () => {
  let dir = ''
  after(async () => { if (dir !== '') await rm(dir, { recursive: true, force: true }) })

  it('once per event, in order, with the environment and stdin a handler expects; a query answers with stdout', async () => {
    dir = await mkdtemp(join(tmpdir(), 'handlers-'))
    const out = join(dir, 'out')
    const logs: string[] = []
    const handlers = new EventHandlers([
      parseHandler(`member-failed,user:deploy=echo "$AGENT_EVENT $AGENT_SELF_NAME $AGENT_TAG_ROLE \${AGENT_USER_EVENT:-} \${AGENT_LTIME:-} $(cat | tr '\\t\\n' '|;')" >> ${out}`),
      parseHandler('query:uptime=echo "up on $AGENT_SELF_NAME: $(cat)"'),
      parseHandler('user:boom=exit 3')
    ], { name: 'n1', id: 'id1', tags: { role: 'web' } }, m => logs.push(m), 5000)
    handlers.emit({ type: 'member-failed', members: [{ name: 'n5', peerId: 'p5', status: 'failed', cause: 'crash', tags: { zone: 'a' } }] })
    handlers.emit({ type: 'user', name: 'deploy', payload: 'v42', ltime: 7 })
    handlers.emit({ type: 'user', name: 'other', payload: 'x', ltime: 8 })
    handlers.emit({ type: 'user', name: 'boom', payload: '', ltime: 9 })
    assert.equal(await handlers.answer({ type: 'query', name: 'uptime', payload: 'please', ltime: 10 }), 'up on n1: please\n')
    assert.equal(await handlers.answer({ type: 'query', name: 'nobody', payload: '', ltime: 11 }), undefined)
    for (let i = 0; i < 100 && handlers.stats().ran < 4; i++) await new Promise(resolve => setTimeout(resolve, 50))
    assert.deepEqual((await readFile(out, 'utf8')).trim().split('\n'), [
      'member-failed n1 web   n5|p5|failed|crash|zone=a;',
      'user n1 web deploy 7 v42'
    ])
    assert.equal(handlers.stats().failed, 1)
    assert.match(logs.join('\n'), /exited with 3/)
  })
})
