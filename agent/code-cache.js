// Runs the agent's CommonJS bundle (dist/agent.cjs) through a V8 code cache
// taken from a running agent.
//
// Why: Node's compile cache (module.enableCompileCache) keeps what V8 compiled
// while a module loaded, which is its top level only. Everything an agent
// compiles later, lazily, on its first connection, handshake and message
// (noise, yamux, multistream-select, the codec, the membership core) was
// compiled again at every start, by each of the dozens of agents that start
// together on one machine. vm.Script#createCachedData, called once the agent
// has run for a while, keeps those functions too. Measured in docs/scale.md.
//
// The cache is written once, AFTER_MS after the start, when there was none or
// V8 rejected it (another Node binary, other V8 flags, another bundle: V8
// checks), replacing the caches of earlier bundles; to a directory of this
// user's only (0700, owned by us: code read from a cache runs as the agent).
// AGENT_CODE_CACHE=off runs without it; AGENT_CODE_CACHE_DIR chooses the
// directory, AGENT_CODE_CACHE_AFTER_MS when it is written; DEBUG=code-cache
// prints whether V8 took the cache.
/**
 * A built-in module for the plain-JavaScript files that start the agent (this
 * one and agent/bin.js). process.getBuiltinModule (Node >= 22.3) hands over
 * the module itself, where an `import` of a built-in makes Node build an ES
 * module facade that reads every export, lazy ones included (fs's streams):
 * about 3 ms of each start for the modules these two use (docs/scale.md).
 */
export async function builtin (name) {
  return process.getBuiltinModule?.(name) ?? await import(name)
}

const { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = await builtin('node:fs')
const { createRequire } = await builtin('node:module')
const { tmpdir } = await builtin('node:os')
const { dirname, join } = await builtin('node:path')
const vm = await builtin('node:vm')

/** Long enough for an agent to have joined, probed and gossiped: what it compiled by then is cached. */
const AFTER_MS = Number(process.env.AGENT_CODE_CACHE_AFTER_MS ?? 20_000)
const debug = /\bcode-cache\b/.test(process.env.DEBUG ?? '') ? (text) => { console.error(`code cache: ${text}`) } : () => {}

/** The cache directory, created if needed; undefined when it is off or not safely ours. */
function cacheDir () {
  if (process.env.AGENT_CODE_CACHE === 'off') return undefined
  const uid = process.getuid?.()
  const dir = process.env.AGENT_CODE_CACHE_DIR ?? join(tmpdir(), `gossip-cluster-agent-${uid ?? 'user'}`)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const st = statSync(dir)
    if (uid != null && (st.uid !== uid || (st.mode & 0o077) !== 0)) return undefined
    return dir
  } catch {
    return undefined
  }
}

/**
 * What the bundle is wrapped in before it is compiled (strict, as the ES module
 * bundle is: the same code runs with the same semantics either way). Exported
 * for bench/startup/profile-by-package.mjs: columns on the bundle's first line
 * are shifted by its length in a CPU profile.
 */
export const SCRIPT_WRAPPER_HEAD = "(function (exports, require, module, __filename, __dirname) {'use strict';"

/**
 * How the bundle's last line starts (build/bundle.ts writes it): the built-in
 * modules it requires follow, separated by spaces.
 */
export const BUILTINS_LINE = '// built-in modules required: '

/**
 * Loads the built-in modules the bundle's last line names. Node compiles its
 * built-ins from a code cache of its own, which V8 refuses once any V8 flag
 * differs from Node's defaults (a flag is part of every code cache's check):
 * then each is compiled from source, about 20 ms of an agent's start. So they
 * are loaded while the flags are still the defaults (docs/scale.md).
 */
function loadBuiltinsNamedIn (source) {
  const lastLine = source.slice(source.lastIndexOf('\n', source.length - 2) + 1)
  if (!lastLine.startsWith(BUILTINS_LINE)) return
  let loaded = 0
  for (const name of lastLine.slice(BUILTINS_LINE.length).trim().split(' ')) {
    if (process.getBuiltinModule?.(`node:${name}`) != null) loaded++
  }
  debug(`${loaded} built-in modules loaded before the V8 flags`)
}

/**
 * Runs `file` (a CommonJS script) as the main program, with the code cache when
 * there is one. `setFlags` sets the V8 flags the agent runs with: after the
 * built-ins are loaded, before the bundle is compiled (its cache is checked
 * against them).
 */
export function runWithCodeCache (file, setFlags = () => {}) {
  const source = readFileSync(file, 'utf8')
  loadBuiltinsNamedIn(source)
  setFlags()
  const dir = cacheDir()
  const { size, mtimeMs } = statSync(file)
  const cacheFile = dir && join(dir, `agent-${process.version}-${process.arch}-${size}-${Math.floor(mtimeMs)}.v8cache`)
  let cachedData
  try { if (cacheFile) cachedData = readFileSync(cacheFile) } catch {}
  const wrapped = `${SCRIPT_WRAPPER_HEAD}${source}\n})`
  const script = new vm.Script(wrapped, { filename: file, cachedData })
  debug(cacheFile == null ? 'off' : cachedData == null ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted')
  if (cacheFile && (cachedData == null || script.cachedDataRejected)) {
    setTimeout(() => {
      try {
        const tmp = `${cacheFile}.${process.pid}`
        writeFileSync(tmp, script.createCachedData(), { mode: 0o600 })
        renameSync(tmp, cacheFile) // agents that start together each write a whole file
        // the caches of earlier bundles and Node versions will not be read again
        for (const name of readdirSync(dir)) {
          if (/^agent-.*\.v8cache$/.test(name) && join(dir, name) !== cacheFile) rmSync(join(dir, name), { force: true })
        }
        debug(`written to ${cacheFile}`)
      } catch (err) {
        debug(`not written: ${err.message}`)
      }
    }, AFTER_MS).unref()
  }
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file))
}
