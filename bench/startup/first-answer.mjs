// Time from launching one agent (a bundle, alone, no --join) to its control API
// answering GET /v1/health, the CPU it had used by then, and its RSS then.
// Several bundles are run in turn (A B A B ...) so that a drifting machine
// load hits them alike; prints each run and the medians.
//
//   node bench/startup/first-answer.mjs RUNS BUNDLE_A [BUNDLE_B ...]
//   EXTRA_ARGS='--snapshot-blob x.blob' ...   (node flags before the bundle)
import { spawn } from 'node:child_process'
import { rssMb, threadsCpuS } from '../proc.ts'
import http from 'node:http'

const [runsArg, ...bundles] = process.argv.slice(2)
const RUNS = Number(runsArg)
if (!(RUNS > 0) || bundles.length === 0) { console.error('usage: first-answer.mjs RUNS BUNDLE...'); process.exit(2) }
const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname
const get = (port) => new Promise(resolve => {
  const req = http.get({ host: '127.0.0.1', port, path: '/v1/health', agent: false }, res => { res.resume(); resolve(res.statusCode === 200) })
  req.on('error', () => resolve(false))
  req.setTimeout(1000, () => { req.destroy(); resolve(false) })
})
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function once (bundle, port) {
  // a bundle entry may be "node-flags... file": split on spaces
  const args = bundle.split(' ')
  const t0 = performance.now()
  const child = spawn(NODE, [...args, '--name', 'fa', '--rpc', `127.0.0.1:${port}`, '--listen', `/ip4/127.0.0.1/tcp/${port + 1}`], { stdio: 'ignore' })
  let ms
  while (true) {
    if (await get(port)) { ms = performance.now() - t0; break }
    if (child.exitCode != null) throw new Error(`${bundle} exited ${child.exitCode}`)
    if (performance.now() - t0 > 20_000) throw new Error('no answer in 20 s')
    await sleep(2)
  }
  const cpu = await threadsCpuS(child.pid)
  await sleep(1000)
  const cpu1 = await threadsCpuS(child.pid)
  const rss = await rssMb(child.pid)
  child.kill('SIGKILL')
  await new Promise(resolve => child.once('exit', resolve))
  return { ms, cpu, cpu1, rss }
}

const results = bundles.map(() => [])
let port = 20000
for (let r = 0; r < RUNS; r++) {
  for (const [i, bundle] of bundles.entries()) {
    const res = await once(bundle, port += 3)
    results[i].push(res)
  }
}
const med = xs => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
for (const [i, bundle] of bundles.entries()) {
  const rs = results[i]
  console.log(`${bundle}\n  first answer ms  median ${med(rs.map(r => r.ms)).toFixed(0)}  runs ${rs.map(r => r.ms.toFixed(0)).join(' ')}` +
    `\n  CPU s by then    median ${med(rs.map(r => r.cpu)).toFixed(3)}  after 1 s more ${med(rs.map(r => r.cpu1)).toFixed(3)}  runs ${rs.map(r => r.cpu.toFixed(3)).join(' ')}` +
    `\n  RSS MB 1 s after median ${med(rs.map(r => r.rss)).toFixed(1)}`)
}
