// What wakes an agent (a diagnostic preload, not a benchmark): counts every
// callback its event loop runs, by kind (socket reads, timers, immediates,
// ticks) and, for timers, immediates and ticks, by where they were made (the
// first frames outside Node's own code), and writes the running totals to
// DIR/PID.json every 20 s. Load it into an agent with
//   NODE_OPTIONS="--import /path/to/bench/callback-counter.mjs" CALLBACK_COUNT_DIR=DIR
// (bench/idle-cpu-clusters.ts does it for five agents per cluster with
// COUNT_CALLBACKS=DIR); bench/callback-report.mjs DIR compares the last two
// minutes of each file. Promise callbacks are not counted (they are the
// continuation of something counted). Capturing a stack per timer costs CPU:
// compare counts, not the CPU of instrumented agents.
import { createHook } from 'node:async_hooks'
import { writeFileSync } from 'node:fs'

const dir = process.env.CALLBACK_COUNT_DIR ?? '/tmp'
/** asyncId -> what its callbacks are counted as. */
const kinds = new Map()
const counts = new Map()

/** The first three frames of the current stack outside Node's internals and this file. */
function site () {
  const frames = new Error().stack.split('\n').slice(3).map(line => line.trim())
  return frames.filter(f => !f.includes('node:') && !f.includes('callback-counter')).slice(0, 3).join(' | ')
}

createHook({
  init (id, type) {
    if (type === 'PROMISE') return
    kinds.set(id, type === 'Timeout' || type === 'Immediate' || type === 'TickObject' ? `${type} ${site()}` : type)
  },
  before (id) {
    const kind = kinds.get(id)
    if (kind != null) counts.set(kind, (counts.get(kind) ?? 0) + 1)
  },
  destroy (id) { kinds.delete(id) }
}).enable()

const snapshots = []
setInterval(() => {
  snapshots.push({ t: Date.now(), counts: Object.fromEntries(counts) })
  writeFileSync(`${dir}/${process.pid}.json`, JSON.stringify(snapshots.slice(-40)))
}, 20_000).unref()
