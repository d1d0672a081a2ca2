// Attributes the samples of CPU profiles (`node --cpu-prof`) of the agent's
// bundle to the packages and folders its code came from, through the bundle's
// source map: the bundle is minified, so function names alone say nothing.
// Prints each package's share of the sampled (non-idle) time, largest first.
// Samples also count time a process spent waiting for a core, so on a loaded
// machine read the shares, not the milliseconds.
//
//   BUNDLE_SOURCEMAP=1 node build/bundle.ts agent/main.ts /tmp/b/agent.cjs
//   (run agents of /tmp/b/agent.cjs with --cpu-prof --cpu-prof-dir DIR ...)
//   node bench/startup/profile-by-package.mjs /tmp/b/agent.cjs.map DIR/*.cpuprofile
//
// A bundle run through agent/code-cache.js sits inside a one-line wrapper:
// columns on its first line are shifted by the wrapper's length.
import { readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { SCRIPT_WRAPPER_HEAD } from '../../agent/code-cache.js'

const [mapFile, ...profiles] = process.argv.slice(2)
if (mapFile == null || profiles.length === 0) {
  console.error('usage: profile-by-package.mjs BUNDLE.map PROFILE.cpuprofile...')
  process.exit(2)
}
const map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')))
const bundleName = mapFile.replace(/\.map$/, '').split('/').pop()
const WRAPPER = SCRIPT_WRAPPER_HEAD.length

function bucketOf (frame) {
  const { url, functionName, lineNumber, columnNumber } = frame
  if (functionName === '(garbage collector)') return 'garbage collection'
  if (functionName === '(program)' || functionName === '(root)') return '(program: V8 and the runtime outside JavaScript)'
  if (!url.endsWith(bundleName)) return url === '' ? `native: ${functionName}` : `node: ${url.replace(/^node:/, '')}`
  const entry = map.findEntry(lineNumber, lineNumber === 0 ? columnNumber - WRAPPER : columnNumber)
  const source = entry?.originalSource ?? ''
  const pkg = source.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)
  if (pkg != null) return pkg[1]
  const ours = source.match(/(?:^|\/)(agent|gossip|membership|workloads|services|build)\//)
  return ours != null ? `ours: ${ours[1]}/` : `unmapped ${source}`
}

const totals = new Map()
let sum = 0
for (const file of profiles) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const nodes = new Map(profile.nodes.map(n => [n.id, n]))
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id).callFrame
    if (frame.functionName === '(idle)') return
    const dt = profile.timeDeltas[i] ?? 0
    const bucket = bucketOf(frame)
    totals.set(bucket, (totals.get(bucket) ?? 0) + dt)
    sum += dt
  })
}
console.log(`${profiles.length} profile(s), ${(sum / 1e6).toFixed(2)} s sampled (not idle)`)
for (const [bucket, t] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
  console.log(`${(100 * t / sum).toFixed(1).padStart(5)} %  ${bucket}`)
}
