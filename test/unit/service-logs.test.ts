/** agent/service-logs.ts: lines from chunks, the memory bounds, followers, and the optional file (mode, rotation, failures). */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InstanceLog, type LogLine } from '../../agent/service-logs.ts'

const AT = new Date('2026-12-03T10:00:00.000Z')
const now = (): Date => AT
const text = (lines: LogLine[]): string[] => lines.map(l => `${l.stream}:${l.line}`)

describe('service logs: lines in memory', () => {
  it('joins a line split across chunks, per stream, and drops the \\r of \\r\\n', () => {
    const log = new InstanceLog({ now })
    log.append('stdout', 'hel')
    log.append('stderr', 'oops')
    log.append('stdout', 'lo\r\nwor')
    log.append('stderr', '\n')
    log.append('stdout', 'ld\n\n')
    assert.deepEqual(text(log.lines()), ['stdout:hello', 'stderr:oops', 'stdout:world', 'stdout:'])
    assert.equal(log.lines()[0].at, AT.toISOString())
  })

  it('keeps a partial line until flush() ends it', () => {
    const log = new InstanceLog({ now })
    log.append('stdout', 'no newline')
    assert.deepEqual(log.lines(), [])
    log.flush()
    assert.deepEqual(text(log.lines()), ['stdout:no newline'])
  })

  it('keeps only the last maxLines lines, oldest first', () => {
    const log = new InstanceLog({ now, maxLines: 3 })
    for (let i = 0; i < 10; i++) log.append('stdout', `${i}\n`)
    assert.deepEqual(log.lines().map(l => l.line), ['7', '8', '9'])
    assert.equal(log.stats().lines, 3)
  })

  it('cuts a line longer than maxLineBytes, also one that never ends, without splitting a character', () => {
    const log = new InstanceLog({ now, maxLineBytes: 4 })
    log.append('stdout', 'abcdefghij\n')
    assert.deepEqual(log.lines().map(l => l.line), ['abcd', 'efgh', 'ij'])
    const utf8 = new InstanceLog({ now, maxLineBytes: 4 })
    utf8.append('stdout', 'aéé') // 1 + 2 + 2 bytes, no newline yet
    assert.deepEqual(utf8.lines().map(l => l.line), ['aé'])
    utf8.append('stdout', 'éé') // 'ééé' waits: 6 bytes
    assert.deepEqual(utf8.lines().map(l => l.line), ['aé', 'éé'])
    utf8.flush()
    assert.deepEqual(utf8.lines().map(l => l.line), ['aé', 'éé', 'é'])
  })

  it('tells followers of each new line until they unsubscribe; a throwing follower harms no other', () => {
    const log = new InstanceLog({ now })
    const seen: string[] = []
    log.subscribe(() => { throw new Error('follower bug') })
    const stop = log.subscribe(l => { seen.push(l.line) })
    log.append('stdout', 'a\nb')
    log.append('stdout', '\n')
    stop()
    log.append('stdout', 'c\n')
    assert.deepEqual(seen, ['a', 'b'])
  })
})

describe('service logs: the file', () => {
  const dirs: string[] = []
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'service-logs-'))
    dirs.push(dir)
    return dir
  }
  after(async () => { await Promise.all(dirs.map(async d => { await rm(d, { recursive: true, force: true }) })) })

  it('appends `ISO stream line` to a file created 0600 in directories created 0700', async () => {
    const file = join(await tempDir(), 'a', 'b', 'web.log')
    const log = new InstanceLog({ now, file })
    log.append('stdout', 'one\ntwo\n')
    log.append('stderr', 'three\n')
    await log.close()
    assert.equal(await readFile(file, 'utf8'), [
      `${AT.toISOString()} stdout one`, `${AT.toISOString()} stdout two`, `${AT.toISOString()} stderr three`, ''
    ].join('\n'))
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    assert.equal((await stat(join(file, '..'))).mode & 0o777, 0o700)
    assert.equal(log.stats().fileErrors, 0)
  })

  it('moves a full file to <file>.1, replacing an older one, and never lets the file pass maxFileBytes', async () => {
    const file = join(await tempDir(), 'web.log')
    await writeFile(`${file}.1`, 'older\n')
    const lineBytes = `${AT.toISOString()} stdout 0000\n`.length
    const log = new InstanceLog({ now, file, maxFileBytes: lineBytes * 3 })
    for (let i = 0; i < 5; i++) log.append('stdout', `${String(i).padStart(4, '0')}\n`)
    await log.close()
    for (let i = 5; i < 8; i++) log.append('stdout', `${String(i).padStart(4, '0')}\n`) // reopens after close
    await log.close()
    const lines = async (f: string): Promise<string[]> => (await readFile(f, 'utf8')).trim().split('\n').map(l => l.split(' ')[2])
    assert.deepEqual(await lines(`${file}.1`), ['0003', '0004', '0005'])
    assert.deepEqual(await lines(file), ['0006', '0007'])
  })

  it('counts a failing write and goes on: the lines stay in memory and nothing throws', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'not-a-dir'), '')
    const log = new InstanceLog({ now, file: join(dir, 'not-a-dir', 'web.log') })
    log.append('stdout', 'kept\n')
    await log.close()
    log.append('stdout', 'kept too\n')
    await log.close()
    assert.equal(log.stats().fileErrors, 2)
    assert.deepEqual(log.lines().map(l => l.line), ['kept', 'kept too'])
  })

  it('drops lines for the file, not for memory, past maxQueuedBytes', async () => {
    const file = join(await tempDir(), 'web.log')
    const log = new InstanceLog({ now, file, maxQueuedBytes: 100 })
    for (let i = 0; i < 10; i++) log.append('stdout', `line ${i}\n`)
    await log.close()
    assert.equal(log.lines().length, 10)
    const written = (await readFile(file, 'utf8')).trim().split('\n').length
    assert.equal(written + log.stats().fileDropped, 10)
    assert.ok(log.stats().fileDropped > 0)
  })
})
