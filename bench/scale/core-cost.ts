/**
 * What one membership core costs as the cluster grows, measured on a single
 * core with nothing else running: the time to learn N members from one sync,
 * the time per received ping (plus the nextDeadline() call every driver makes
 * after an input) while the N learned members are still queued for gossip and
 * once that queue has drained, and the heap it holds per member it knows.
 * A flat core shows flat columns; these are the figures behind "Where the
 * time goes" in the report.
 *
 * Each size runs in a process of its own (`node --expose-gc core-cost.ts N`
 * prints one JSON line), so that one size's garbage is not counted in the
 * next one's heap.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { signedAlivePayload, createMembership, fromPartial, seededRandom } from '../../membership/index.ts'
import type { Effect, Message, SyncEntry } from '../../membership/index.ts'
import { fakeSigner } from '../../testkit/sim/fake-signer.ts'
import { peerIdOf } from './run.ts'

export interface CoreCost {
  size: number
  learnMs: number
  /** Per ping while the queue holds the learned members (the first PINGS pings). */
  queuedUs: number
  /** Pings it took to drain the queue (after the first PINGS), and their mean cost. */
  drainPings: number
  drainUs: number
  /** Per ping once the queue is empty. */
  drainedUs: number
  /**
   * Per received gossip carrying one member's new announcement (new tags: a
   * `member:update` event each, so the partition verdicts are re-evaluated),
   * once the queue had drained.
   */
  eventUs?: number
  bytesPerMember: number
}

const PINGS = 2000
const EVENTS = 1000

function heap (): number {
  (globalThis as { gc?: () => void }).gc?.()
  return process.memoryUsage().heapUsed
}

export function measureCoreCost (size: number): CoreCost {
  const config = fromPartial({}, 'lan')
  const entries: SyncEntry[] = []
  for (let i = 1; i < size; i++) {
    const id = peerIdOf(i)
    entries.push({ id, name: `node-${i}`, addrs: [`/ip4/10.0.${i >> 8}.${i & 255}/tcp/7946`], tags: {}, incarnation: 0, bootId: i.toString(16).padStart(16, '0'), status: 'alive' })
  }
  // Signer are checked by the receiving core: sign them as each member would.
  for (const e of entries) e.signature = fakeSigner(e.id).sign(signedAlivePayload(e))
  const self = peerIdOf(0)
  const before = heap() - entriesBytes(entries)
  const core = createMembership({
    self: { id: self, name: 'node-0', addrs: ['/ip4/10.0.0.0/tcp/7946'], tags: {}, incarnation: 0, bootId: '0'.repeat(16) },
    config,
    random: seededRandom(size),
    now: 0,
    signer: fakeSigner(self)
  })
  let t = performance.now()
  let effects: Effect[] | undefined = core.receive(0, entries[0].id, { type: 'sync', reply: false, join: false, members: entries })
  const learnMs = performance.now() - t
  effects = undefined
  void effects

  let seq = 0
  const ping = (): Message | undefined => {
    const from = entries[seq % entries.length].id
    const out = core.receive(10, from, { type: 'ping', seq: ++seq, target: self, updates: [] })
    core.nextDeadline()
    const sent = out.find(e => e.kind === 'send')
    return sent?.kind === 'send' ? sent.msg : undefined
  }
  t = performance.now()
  for (let k = 0; k < PINGS; k++) ping()
  const queuedUs = (performance.now() - t) / PINGS * 1000
  t = performance.now()
  let drainPings = 0
  for (;;) {
    drainPings++
    const ack = ping()
    if (ack == null || !('updates' in ack) || ack.updates.length === 0) break
  }
  const drainUs = (performance.now() - t) / drainPings * 1000
  t = performance.now()
  for (let k = 0; k < PINGS; k++) ping()
  const drainedUs = (performance.now() - t) / PINGS * 1000
  entries.length = 0
  const bytesPerMember = (heap() - before) / size
  if (core.members().length !== size) throw new Error(`the core knows ${core.members().length} members, not ${size}`)
  // Signed before timing: the signing is the sender's work.
  const others = core.members().filter(m => m.id !== self)
  const gossips = Array.from({ length: EVENTS }, (_, k): { from: string, msg: Message } => {
    const e = others[k % others.length]
    const update = { type: 'alive' as const, id: e.id, name: e.name, addrs: [...e.addrs], tags: { v: String(k) }, incarnation: e.incarnation + 1 + k, bootId: e.bootId }
    return { from: others[(k + 1) % others.length].id, msg: { type: 'gossip', updates: [{ ...update, signature: fakeSigner(e.id).sign(signedAlivePayload(update)) }] } }
  })
  t = performance.now()
  for (const { from, msg } of gossips) {
    core.receive(20, from, msg)
    core.nextDeadline()
  }
  const eventUs = (performance.now() - t) / EVENTS * 1000
  gossips.length = 0
  return { size, learnMs, queuedUs, drainPings, drainUs, drainedUs, eventUs, bytesPerMember }
}

/** Roughly what the sync entries themselves hold, to leave them out of the core's heap. */
function entriesBytes (entries: SyncEntry[]): number {
  const start = heap()
  const copy = structuredClone(entries)
  const bytes = heap() - start
  copy.length = 0
  return bytes
}

/** Measures each size in its own process. */
export function measureCoreCosts (sizes: number[]): CoreCost[] {
  const file = fileURLToPath(import.meta.url)
  return sizes.map(size => JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', file, String(size)], { encoding: 'utf8' })) as CoreCost)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(measureCoreCost(Number(process.argv[2]))))
}
