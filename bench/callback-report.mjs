// Reads what bench/callback-counter.mjs wrote (DIR/PID.json, one per
// instrumented agent) and prints the callbacks per second per agent over each
// file's last two minutes, by kind and creation site, largest first.
//   node bench/callback-report.mjs DIR
import { readdirSync, readFileSync } from 'node:fs'

const dir = process.argv[2]
if (dir == null) {
  console.error('usage: callback-report.mjs DIR')
  process.exit(2)
}
/** Snapshots 20 s apart: the last seven span two minutes. */
const WINDOW = 6
const files = readdirSync(dir).filter(f => /^\d+\.json$/.test(f))
const totals = new Map()
let seconds = 0
for (const file of files) {
  const snapshots = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8'))
  const first = snapshots[Math.max(0, snapshots.length - 1 - WINDOW)]
  const last = snapshots[snapshots.length - 1]
  seconds += (last.t - first.t) / 1000
  for (const [kind, n] of Object.entries(last.counts)) totals.set(kind, (totals.get(kind) ?? 0) + n - (first.counts[kind] ?? 0))
}
const rates = [...totals].map(([kind, n]) => [kind, n / seconds]).filter(([, rate]) => rate >= 0.005).sort((a, b) => b[1] - a[1])
console.log(`${files.length} agents, ${(seconds / files.length).toFixed(0)} s each: ${rates.reduce((s, [, r]) => s + r, 0).toFixed(2)} callbacks a second per agent`)
for (const [kind, rate] of rates) console.log(`${rate.toFixed(3).padStart(8)}  ${kind}`)
