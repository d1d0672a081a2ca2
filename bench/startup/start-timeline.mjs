// N agents launched at once (each joining the first), their JSON logs read
// afterwards: when each printed "started", finished its join and listed every
// other member, in ms from the launch. Timestamps come from the agents' own
// log lines, so the figures have no polling step (bench/startup/cluster.mjs
// polls every 200 ms).
//
//   node bench/startup/start-timeline.mjs N [ROUNDS]
//   BIN=/other/checkout/agent/bin.js   the agent to run (default: this checkout's)
//   AGENT_CODE_CACHE_DIR=...           give each checkout its own code cache
//   WAIT_MS=3500                       how long the agents run before they are killed
//   QUIET=1                            one line per round, not the table
import { spawn } from 'node:child_process'
import { mkdirSync, openSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const N = Number(process.argv[2] ?? 10)
const ROUNDS = Number(process.argv[3] ?? 1)
const WAIT_MS = Number(process.env.WAIT_MS ?? 3500)
const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname
const BIN = process.env.BIN ?? new URL('../../agent/bin.js', import.meta.url).pathname
const LOGS = join(tmpdir(), 'start-timeline')
mkdirSync(LOGS, { recursive: true })

const readLog = (file) => readFileSync(file, 'utf8').split('\n').flatMap(line => {
  try { return [JSON.parse(line)] } catch { return [] }
})

async function round (base) {
  const t0 = Date.now()
  const children = []
  for (let i = 1; i <= N; i++) {
    const port = base + i * 3
    const out = openSync(join(LOGS, `a${i}.log`), 'w')
    const args = [BIN, '--name', `t${i}`, '--log-format', 'json', '--rpc', `127.0.0.1:${port}`, '--listen', `/ip4/127.0.0.1/tcp/${port + 1}`]
    if (i > 1) args.push('--join', `/ip4/127.0.0.1/tcp/${base + 4}`)
    children.push(spawn(NODE, args, { stdio: ['ignore', out, out], env: { ...process.env, AGENT_PREFER_BUNDLE: '1' } }))
  }
  await new Promise(resolve => setTimeout(resolve, WAIT_MS))
  for (const child of children) child.kill('SIGKILL')
  const rows = []
  for (let i = 1; i <= N; i++) {
    const lines = readLog(join(LOGS, `a${i}.log`))
    const at = (line) => line == null ? null : line.time - t0
    const known = new Set()
    let full = null
    for (const line of lines) {
      if (line.msg !== 'member:join' && line.msg !== 'member:alive') continue
      known.add(line.peerId)
      if (known.size === N - 1 && full == null) full = at(line)
    }
    rows.push({ agent: i, started: at(lines.find(l => l.event === 'agent:started')), joined: at(lines.find(l => l.msg === 'join:done')), full, known: known.size })
  }
  return rows
}

const last = (rows, key) => rows.some(r => r[key] == null && !(key === 'joined' && r.agent === 1)) ? null : Math.max(...rows.map(r => r[key] ?? 0))
for (let r = 0; r < ROUNDS; r++) {
  const rows = await round(20_000 + Math.floor(Math.random() * 20_000))
  if (process.env.QUIET == null) console.table(rows)
  console.log(`every view full at ${last(rows, 'full') ?? 'never'} ms; last started ${last(rows, 'started') ?? '-'} ms, last joined ${last(rows, 'joined') ?? '-'} ms`)
}
