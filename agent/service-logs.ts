/**
 * The output of one service instance: the last lines in memory (for `logs`
 * and its follow mode) and, optionally, a file that outlives the agent.
 *
 * Memory is bounded twice: `maxLines` lines of at most `maxLineBytes` each
 * (a longer line, or output that never ends a line, is cut into pieces), so
 * an instance that prints without pause costs the agent a fixed amount.
 * The file is bounded too: past `maxFileBytes` it becomes `<file>.1` and a
 * new one starts, so at most twice that stays on disk. Lines wait for the
 * file in a queue of at most `maxQueuedBytes`; past it they are dropped from
 * the file (not from memory) rather than growing the agent without bound.
 * A failing write is counted, never thrown: logging must not stop a service.
 */
import { mkdir, open, rename, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'

export type OutputStream = 'stdout' | 'stderr'

export interface LogLine {
  /** ISO wall-clock time the line was complete. */
  at: string
  stream: OutputStream
  line: string
}

export interface InstanceLogOptions {
  /** Lines kept in memory. */
  maxLines?: number
  /** Longest line kept whole, in UTF-8 bytes. */
  maxLineBytes?: number
  /** Also append every line to this file (created 0600, its directories 0700). */
  file?: string
  /** Size at which the file moves to `<file>.1`. */
  maxFileBytes?: number
  /** Lines waiting for the file, in bytes, before more are dropped. */
  maxQueuedBytes?: number
  /** Wall clock for `at` (tests pass a fixed one). */
  now?: () => Date
}

export interface InstanceLogStats { lines: number, fileErrors: number, fileDropped: number }

/** Cuts `text` to at most `maxBytes` UTF-8 bytes without splitting a character. */
function cut (text: string, maxBytes: number): [string, string] {
  const bytes = Buffer.from(text, 'utf8')
  let end = maxBytes
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end-- // a continuation byte: back to the character's start
  if (end === 0) end = maxBytes // a limit smaller than one character: cut it anyway rather than loop
  return [bytes.subarray(0, end).toString('utf8'), bytes.subarray(end).toString('utf8')]
}

export class InstanceLog {
  readonly #maxLines: number
  readonly #maxLineBytes: number
  readonly #file: string | undefined
  readonly #maxFileBytes: number
  readonly #maxQueuedBytes: number
  readonly #now: () => Date
  /** A ring: the oldest line at #start. */
  readonly #ring: LogLine[] = []
  #start = 0
  readonly #partial: Record<OutputStream, string> = { stdout: '', stderr: '' }
  readonly #listeners = new Set<(line: LogLine) => void>()
  readonly #queue: string[] = []
  #queuedBytes = 0
  #writing: Promise<void> | undefined
  #handle: FileHandle | undefined
  #fileBytes = 0
  #fileErrors = 0
  #fileDropped = 0

  constructor (options: InstanceLogOptions = {}) {
    this.#maxLines = options.maxLines ?? 1000
    this.#maxLineBytes = options.maxLineBytes ?? 64 * 1024
    this.#file = options.file
    this.#maxFileBytes = options.maxFileBytes ?? 10 * 1024 * 1024
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 1024 * 1024
    this.#now = options.now ?? (() => new Date())
  }

  /** Adds output as it arrived: lines end at '\n' (a '\r' before it is dropped); the rest waits for the next chunk. */
  append (stream: OutputStream, text: string): void {
    let pending = this.#partial[stream] + text
    let nl: number
    while ((nl = pending.indexOf('\n')) >= 0) {
      this.#splitLong(stream, pending.slice(0, nl).replace(/\r$/, ''), true)
      pending = pending.slice(nl + 1)
    }
    this.#partial[stream] = this.#splitLong(stream, pending, false)
  }

  /** Ends the partial lines (the instance exited): what was printed without a final '\n' is a line too. */
  flush (): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.#partial[stream] !== '') this.#add(stream, this.#partial[stream])
      this.#partial[stream] = ''
    }
  }

  /** The lines in memory, oldest first. */
  lines (): LogLine[] {
    return [...this.#ring.slice(this.#start), ...this.#ring.slice(0, this.#start)]
  }

  /** Calls `fn` with every line from now on; returns the unsubscribe. */
  subscribe (fn: (line: LogLine) => void): () => void {
    this.#listeners.add(fn)
    return () => { this.#listeners.delete(fn) }
  }

  stats (): InstanceLogStats {
    return { lines: this.#ring.length, fileErrors: this.#fileErrors, fileDropped: this.#fileDropped }
  }

  /** Resolves once every queued line is written (or failed), then closes the file. */
  async close (): Promise<void> {
    while (this.#writing !== undefined) await this.#writing
    await this.#handle?.close().catch(() => {})
    this.#handle = undefined
  }

  /** Adds the pieces of `text` that reach maxLineBytes; returns the rest (all of it when `whole`: a complete line). */
  #splitLong (stream: OutputStream, text: string, whole: boolean): string {
    let rest = text
    while (Buffer.byteLength(rest, 'utf8') > this.#maxLineBytes) {
      const [head, tail] = cut(rest, this.#maxLineBytes)
      this.#add(stream, head)
      rest = tail
    }
    if (!whole) return rest
    this.#add(stream, rest)
    return ''
  }

  #add (stream: OutputStream, line: string): void {
    const entry: LogLine = { at: this.#now().toISOString(), stream, line }
    if (this.#ring.length < this.#maxLines) this.#ring.push(entry)
    else {
      this.#ring[this.#start] = entry
      this.#start = (this.#start + 1) % this.#maxLines
    }
    for (const fn of this.#listeners) {
      try {
        fn(entry)
      } catch {
        // one follower's failure is not the log's
      }
    }
    if (this.#file !== undefined) this.#enqueue(`${entry.at} ${stream} ${line}\n`)
  }

  #enqueue (text: string): void {
    const bytes = Buffer.byteLength(text, 'utf8')
    if (this.#queuedBytes + bytes > this.#maxQueuedBytes) {
      this.#fileDropped++
      return
    }
    this.#queue.push(text)
    this.#queuedBytes += bytes
    this.#writing ??= this.#drain().finally(() => { this.#writing = undefined })
  }

  /** Writes the queue, one batch at a time, rotating the file before a batch would take it past maxFileBytes. */
  async #drain (): Promise<void> {
    while (this.#queue.length > 0) {
      let batch = this.#queue
      try {
        const handle = await this.#open()
        batch = this.#takeBatch()
        const text = batch.join('')
        const bytes = Buffer.byteLength(text, 'utf8')
        const full = this.#fileBytes > 0 && this.#fileBytes + bytes > this.#maxFileBytes
        await (full ? await this.#rotate() : handle).appendFile(text)
        this.#fileBytes += bytes
      } catch {
        // this batch is lost (a whole queue when the file cannot be opened); the next line tries a fresh file
        this.#fileErrors++
        if (batch === this.#queue) this.#takeBatch(Infinity)
        await this.#handle?.close().catch(() => {})
        this.#handle = undefined
      }
    }
  }

  /** Takes queued lines while they fit in the current file (at least one). */
  #takeBatch (room = this.#maxFileBytes - this.#fileBytes): string[] {
    const batch: string[] = []
    let bytes = 0
    while (this.#queue.length > 0) {
      const next = Buffer.byteLength(this.#queue[0], 'utf8')
      if (batch.length > 0 && bytes + next > room) break
      batch.push(this.#queue.shift() as string)
      bytes += next
    }
    this.#queuedBytes -= bytes
    return batch
  }

  async #open (): Promise<FileHandle> {
    if (this.#handle !== undefined) return this.#handle
    const file = this.#file as string
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    this.#handle = await open(file, 'a', 0o600)
    this.#fileBytes = (await this.#handle.stat()).size
    return this.#handle
  }

  /** Moves the full file to `<file>.1` (replacing an older one) and opens a new one. */
  async #rotate (): Promise<FileHandle> {
    const file = this.#file as string
    await this.#handle?.close()
    this.#handle = undefined
    await rename(file, `${file}.1`)
    return await this.#open()
  }
}
