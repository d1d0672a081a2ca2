/**
 * Retransmit-limited broadcast queue (memberlist's TransmitLimitedQueue):
 * updates waiting to be piggybacked. At most one update per member is queued
 * (a newer one replaces the older), the least-transmitted go first (newest
 * first among equals), and an update is dropped once sent `limit` times.
 *
 * Unlike memberlist's, an entry knows who has it: the members it was sent to
 * and those it was heard from. It is not sent to them again, and it leaves
 * the queue once everyone this node gossips to (the audience) has it. With
 * the ring, an update went to a dozen neighbours about twice each at random
 * (26 sends at 100 members); now to each neighbour that lacks it once, which
 * is what makes the spread reliable (every member hears it from each of its
 * in-neighbours) at under half the messages (docs/scale.md).
 *
 * Kept as a binary heap ordered by (transmits, newest first) beside a map by
 * member id, so that `take` costs O((max + excluded) · log Q) rather than a
 * sort of the whole queue per message (memberlist keeps a btree for the same
 * reason). Replaced and dropped entries leave the map at once and the heap
 * lazily: they are skipped when they reach its top, and the heap is rebuilt
 * when such stale entries outnumber the live ones.
 *
 * It also knows the news queued since the last gossip round: verdicts (a
 * member failed or left), and the announcements of members that joined
 * through this node. News hurries that round (timers.ts), which sends it to
 * every neighbour that lacks it (dissemination.ts). One round each: what it
 * could not send (no one to send it to) waits for the regular rounds like
 * any update, rather than waking the core every quarter interval.
 */
import type { MemberId, Update } from './types.ts'

interface Entry {
  update: Update
  transmits: number
  /** Insertion order: larger is newer. */
  order: number
  /** Members known to hold this update: sent it by us, or heard from. */
  holders: Set<MemberId>
  /** News sent its limit before its round was over: it leaves with the round. */
  spent: boolean
}

export interface TakeOptions {
  /** Updates about these members are not taken (the message carries them already). */
  exclude?: ReadonlySet<MemberId>
  /** Whom the message goes to: an update it holds is not sent to it again. */
  to?: MemberId
  /** Everyone this node gossips to, asked only when needed: an update all of them hold leaves the queue. */
  audience?: () => readonly MemberId[]
}

/** `a` goes out before `b`: fewer transmissions, then newer. */
function before (a: Entry, b: Entry): boolean {
  return a.transmits < b.transmits || (a.transmits === b.transmits && a.order > b.order)
}

export class BroadcastQueue {
  readonly #entries = new Map<MemberId, Entry>()
  /** Every live entry once, plus stale ones (replaced or dropped) not yet removed. */
  #heap: Entry[] = []
  #order = 0
  /** News queued since the last round: verdicts, and joins through this node. */
  readonly #news = new Set<Entry>()

  get size (): number {
    return this.#entries.size
  }

  /** News (verdicts, joins through this node) queued since the last gossip round. */
  get news (): number {
    return this.#news.size
  }

  /** Of `candidates`, those that lack some of the news queued since the last round. */
  lackingNews (candidates: readonly MemberId[]): MemberId[] {
    if (this.#news.size === 0) return []
    const news = [...this.#news]
    return candidates.filter(id => news.some(entry => !entry.holders.has(id)))
  }

  /** A gossip round ran: the news it did not send no longer hurries the next one, and what it sent `limit` times leaves. */
  roundDone (): void {
    for (const entry of this.#news) {
      if (entry.spent && this.#entries.get(entry.update.id) === entry) this.#entries.delete(entry.update.id)
    }
    this.#news.clear()
    this.#compact()
  }

  /**
   * `id` joined through this node: its announcement, queued, is news (it
   * hurries the next round, which sends it to every neighbour lacking it),
   * and `id` holds it already.
   */
  joinedThroughUs (id: MemberId): void {
    const entry = this.#entries.get(id)
    if (entry == null || entry.update.type !== 'alive') return
    entry.holders.add(id)
    this.#news.add(entry)
  }

  /** Queues `update`, replacing whatever was queued about the same member. */
  queue (update: Update): void {
    const entry: Entry = { update: cloneUpdate(update), transmits: 0, order: ++this.#order, holders: new Set(), spent: false }
    const replaced = this.#entries.get(update.id)
    if (replaced != null) this.#news.delete(replaced)
    if (update.type === 'dead' || update.type === 'leave') this.#news.add(entry)
    this.#entries.set(update.id, entry)
    this.#push(entry)
    this.#compact()
  }

  /** The update queued about `id`, if any (a copy). */
  peek (id: MemberId): Update | undefined {
    const entry = this.#entries.get(id)
    return entry == null ? undefined : cloneUpdate(entry.update)
  }

  /** Drops the update queued about `id` when `predicate` accepts it. */
  drop (id: MemberId, predicate: (update: Update) => boolean = () => true): void {
    const entry = this.#entries.get(id)
    if (entry != null && predicate(entry.update)) {
      this.#entries.delete(id)
      this.#news.delete(entry)
      this.#compact()
    }
  }

  /** `from` sent us `update`: when it is what we have queued about that member, we need not send it back. */
  heard (update: Update, from: MemberId): void {
    const entry = this.#entries.get(update.id)
    if (entry != null && sameStatement(entry.update, update)) entry.holders.add(from)
  }

  /**
   * Of `candidates`, those that do not hold the update that goes out next
   * (the least transmitted): whom a gossip round should pick first.
   */
  lacking (candidates: readonly MemberId[]): MemberId[] {
    const next = this.#top()
    return next == null ? [] : candidates.filter(id => !next.holders.has(id))
  }

  /**
   * Takes up to `max` updates for one outgoing message, counting a transmission
   * for each; updates sent `limit` times leave the queue (news only after its
   * round: that round sends it to every neighbour lacking it), and so do those
   * that everyone in the audience holds. Returns copies.
   */
  take (max: number, limit: number, opts: TakeOptions = {}): Update[] {
    const n = Math.trunc(max)
    if (!(n > 0) || this.#entries.size === 0) return []
    const { exclude, to } = opts
    let audience: readonly MemberId[] | undefined
    const picked: Entry[] = []
    const skipped: Entry[] = []
    while (picked.length < n && this.#heap.length > 0) {
      const entry = this.#pop()
      if (this.#entries.get(entry.update.id) !== entry) continue // replaced or dropped
      if (exclude?.has(entry.update.id) === true) skipped.push(entry)
      else if (to == null || !entry.holders.has(to)) picked.push(entry)
      else if (opts.audience != null && (audience ??= opts.audience()).every(id => entry.holders.has(id))) this.#remove(entry)
      else skipped.push(entry)
    }
    const out: Update[] = []
    for (const entry of picked) {
      entry.transmits++
      if (to != null) entry.holders.add(to)
      if (entry.transmits >= limit && !this.#news.has(entry)) {
        this.#remove(entry)
      } else {
        // News goes on to every neighbour lacking it in its round, past the limit: it leaves with the round.
        entry.spent = entry.transmits >= limit
        this.#push(entry)
      }
      out.push(cloneUpdate(entry.update))
    }
    for (const entry of skipped) this.#push(entry)
    return out
  }

  /** The live entry at the top of the heap, dropping stale ones on the way. */
  #top (): Entry | undefined {
    while (this.#heap.length > 0) {
      const entry = this.#heap[0]
      if (this.#entries.get(entry.update.id) === entry) return entry
      this.#pop()
    }
    return undefined
  }

  /** An entry popped from the heap leaves the queue for good. */
  #remove (entry: Entry): void {
    this.#entries.delete(entry.update.id)
    this.#news.delete(entry)
  }

  /** Rebuilds the heap from the live entries once stale ones make up most of it. */
  #compact (): void {
    if (this.#heap.length <= 2 * this.#entries.size + 64) return
    const heap = [...this.#entries.values()]
    this.#heap = heap
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) this.#down(i)
  }

  #push (entry: Entry): void {
    const heap = this.#heap
    let i = heap.push(entry) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(entry, heap[parent])) break
      heap[i] = heap[parent]
      i = parent
    }
    heap[i] = entry
  }

  #pop (): Entry {
    const heap = this.#heap
    const top = heap[0]
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      this.#down(0)
    }
    return top
  }

  #down (i: number): void {
    const heap = this.#heap
    const entry = heap[i]
    const n = heap.length
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && before(heap[child + 1], heap[child])) child++
      if (!before(heap[child], entry)) break
      heap[i] = heap[child]
      i = child
    }
    heap[i] = entry
  }
}

/** The same statement about a member: type, incarnation, who made it (an accuser, a forced leave's member), boot. */
function sameStatement (a: Update, b: Update): boolean {
  if (a.type !== b.type || a.incarnation !== b.incarnation) return false
  if (a.type === 'alive') return a.bootId === (b as typeof a).bootId
  return a.from === (b as typeof a).from
}

export function cloneUpdate (u: Update): Update {
  if (u.type === 'alive') return { ...u, addrs: [...u.addrs], tags: { ...u.tags } }
  return { ...u }
}
