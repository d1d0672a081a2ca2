/**
 * The simulated network's schedule: a binary min-heap of events by time, in
 * the order they were scheduled among events of the same time (so a seed
 * gives one order).
 */
export interface Scheduled {
  at: number
  seq: number
  run: () => void
}

/** A binary min-heap of scheduled events by (at, seq). */
export class EventQueue {
  readonly #heap: Scheduled[] = []
  /** Numbers events as they are pushed: among events of one time, the first pushed runs first. */
  #seq = 0

  get size (): number {
    return this.#heap.length
  }

  peek (): Scheduled | undefined {
    return this.#heap[0]
  }

  push (at: number, run: () => void): void {
    const h = this.#heap
    h.push({ at, seq: this.#seq++, run })
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(h[i], h[p])) break
      ;[h[i], h[p]] = [h[p], h[i]]
      i = p
    }
  }

  pop (): Scheduled | undefined {
    const h = this.#heap
    if (h.length === 0) return undefined
    const top = h[0]
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && before(h[l], h[m])) m = l
        if (r < h.length && before(h[r], h[m])) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m], h[i]]
        i = m
      }
    }
    return top
  }
}

function before (a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
