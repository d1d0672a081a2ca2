/**
 * The witness of the services tests: a service command that appends
 * `AGENT_NAME AGENT_SERVICE_EPOCH pid ms` to a file every 50 ms, and the
 * checks on that file (a singleton's writers never overlap, epochs grow).
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'

/** A writer: one line every 50 ms, naming its agent, epoch and pid. */
export function writer (file: string): string[] {
  return ['sh', '-c', `while :; do echo "$AGENT_NAME $AGENT_SERVICE_EPOCH $$ $(date +%s%3N)" >> ${file}; sleep 0.05; done`]
}

export interface Line { name: string, epoch: number, pid: number, at: number }

export async function lines (file: string): Promise<Line[]> {
  if (!existsSync(file)) return []
  return (await readFile(file, 'utf8')).trim().split('\n').filter(l => l !== '').map(l => {
    const [name, epoch, pid, at] = l.split(' ')
    return { name, epoch: Number(epoch), pid: Number(pid), at: Number(at) }
  })
}

/** Each writer's first and last line; no two of them may overlap or come within 100 ms. */
export function assertNoOverlap (all: Line[]): void {
  const spans = new Map<number, { from: number, to: number, name: string, epoch: number }>()
  for (const l of all) {
    const s = spans.get(l.pid)
    if (s == null) spans.set(l.pid, { from: l.at, to: l.at, name: l.name, epoch: l.epoch })
    else { s.from = Math.min(s.from, l.at); s.to = Math.max(s.to, l.at) }
  }
  const sorted = [...spans.entries()].sort((a, b) => a[1].from - b[1].from)
  for (let i = 1; i < sorted.length; i++) {
    const [prevPid, prev] = sorted[i - 1]
    const [pid, next] = sorted[i]
    assert.ok(next.from - prev.to >= 100, `pid ${pid} (${next.name}, epoch ${next.epoch}) wrote at ${next.from}, ${next.from - prev.to} ms after pid ${prevPid} (${prev.name}, epoch ${prev.epoch}) last wrote`)
    assert.ok(next.epoch > prev.epoch, `epoch ${next.epoch} after ${prev.epoch}`)
  }
}

/** Gone, or a zombie waiting for init to reap it. */
export function processGone (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return true
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

