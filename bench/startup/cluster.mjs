// N agents of a bundle launched at once (each joining the first), for several
// bundles in turn (A B A B ...): time until every view is full, CPU per agent
// by then, then after IDLE_SETTLE s an idle window of IDLE s: CPU per agent
// (% of one core), RSS, and bytes each agent writes per second (wchar from
// /proc/PID/io: every write(2), sockets included; agents' stdout is /dev/null
// and prints nothing while idle).
//
//   node bench/startup/cluster.mjs N ROUNDS IDLE BUNDLE_A [BUNDLE_B ...]
//   a BUNDLE may carry node flags or an env: "ENV=1 --flag file.mjs"
import { spawn } from 'node:child_process'
import { mkdirSync, openSync } from 'node:fs'
import http from 'node:http'
import { cpuTimes, ioBytes, rssMb } from '../proc.ts'

const [nArg, roundsArg, idleArg, ...bundles] = process.argv.slice(2)
const N = Number(nArg); const ROUNDS = Number(roundsArg); const IDLE = Number(idleArg)
const SETTLE = Number(process.env.IDLE_SETTLE ?? 10)
const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname
const cpuOf = async pid => { const t = await cpuTimes(pid); return t.userS + t.systemS }
const wcharOf = async pid => (await ioBytes(pid)).writtenB
const each = async (agents, f) => await Promise.all(agents.map(a => f(a.child.pid)))
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const getJson = (port, path) => new Promise(resolve => {
  const req = http.get({ host: '127.0.0.1', port, path, agent: false }, res => {
    let body = ''; res.setEncoding('utf8'); res.on('data', d => { body += d }); res.on('end', () => { try { resolve(res.statusCode === 200 ? JSON.parse(body) : undefined) } catch { resolve(undefined) } })
  })
  req.on('error', () => resolve(undefined))
  req.setTimeout(2000, () => { req.destroy(); resolve(undefined) })
})
const LOGS = process.env.LOGS ?? '/tmp/startup-cluster-logs'
mkdirSync(LOGS, { recursive: true })
const alive = async pid => await cpuTimes(pid).then(() => true, () => false)
const med = xs => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }

async function run (spec, base) {
  const words = spec.split(' ')
  const env = { ...process.env }
  while (/^[A-Z_]+=/.test(words[0])) { const [k, v] = words.shift().split('='); env[k] = v }
  const agents = []
  const t0 = performance.now()
  for (let i = 1; i <= N; i++) {
    const port = base + i * 3
    // stderr kept (an agent that dies says why); stdout (member events) is not
    const err = openSync(`${LOGS}/agent-${i}.err`, 'w')
    const child = spawn(NODE, [...words, '--name', `c${i}`, '--rpc', `127.0.0.1:${port}`, '--listen', `/ip4/127.0.0.1/tcp/${port + 1}`, ...(i > 1 ? ['--join', `/ip4/127.0.0.1/tcp/${base + 4}`] : [])], { stdio: ['ignore', 'ignore', err], env })
    agents.push({ port, child })
  }
  let converged = null
  while (performance.now() - t0 < 120_000) {
    await sleep(200)
    const h = await Promise.all(agents.map(a => getJson(a.port, '/v1/health')))
    if (h.every(x => x?.members?.alive === N)) { converged = performance.now() - t0; break }
  }
  const dead = (await each(agents, alive)).map((up, i) => up ? null : i + 1).filter(i => i != null)
  if (dead.length > 0) {
    for (const a of agents) a.child.kill('SIGKILL')
    throw new Error(`agents ${dead.join(', ')} exited (${spec}); their stderr is in ${LOGS}`)
  }
  const startCpu = await each(agents, cpuOf)
  await sleep(SETTLE * 1000)
  const c0 = await each(agents, cpuOf); const w0 = await each(agents, wcharOf); const i0 = performance.now()
  await sleep(IDLE * 1000)
  const secs = (performance.now() - i0) / 1000
  const idleCpu = (await each(agents, cpuOf)).map((c, i) => (c - c0[i]) / secs * 100)
  const wps = (await each(agents, wcharOf)).map((w, i) => (w - w0[i]) / secs)
  const rss = await each(agents, rssMb)
  const h = await Promise.all(agents.map(a => getJson(a.port, '/v1/health')))
  const stillFull = h.every(x => x?.members?.alive === N)
  for (const a of agents) a.child.kill('SIGKILL')
  await Promise.all(agents.map(a => a.child.exitCode != null ? null : new Promise(resolve => a.child.once('exit', resolve))))
  return { converged, startCpu: med(startCpu), idleCpu: med(idleCpu), rss: med(rss), wps: med(wps), stillFull }
}

const results = bundles.map(() => [])
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, spec] of bundles.entries()) {
    const res = await run(spec, 21000 + ((r * bundles.length + i) % 4) * 400)
    results[i].push(res)
    console.error(`round ${r + 1} ${spec}: ${JSON.stringify(res)}`)
    await sleep(2000)
  }
}
console.log(`N=${N}, ${ROUNDS} rounds, idle window ${IDLE} s after ${SETTLE} s; per run the median over agents; below, the median over runs [each run]`)
const f = (xs, d) => `${med(xs).toFixed(d)} [${xs.map(x => x == null ? '-' : x.toFixed(d)).join(' ')}]`
for (const [i, spec] of bundles.entries()) {
  const rs = results[i]
  console.log(`${spec}\n  converge ms ${f(rs.map(r => r.converged ?? NaN), 0)}\n  start CPU s ${f(rs.map(r => r.startCpu), 2)}\n  idle CPU % ${f(rs.map(r => r.idleCpu), 2)}\n  RSS MB ${f(rs.map(r => r.rss), 1)}\n  written B/s ${f(rs.map(r => r.wps), 0)}\n  views still full: ${rs.map(r => r.stillFull).join(' ')}`)
}
