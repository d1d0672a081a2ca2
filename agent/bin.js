#!/usr/bin/env node
// The `agent` binary. It runs dist/agent.cjs, the whole agent bundled into one
// script, with a code cache taken from a running agent (agent/code-cache.js):
// it starts in a fraction of the time and memory of loading libp2p's modules
// one by one. That is all the published package has.
//
// In a checkout (`npm ci` builds the bundle) the bundle runs only while it is
// newer than every source file: after an edit the TypeScript sources run,
// through Node's type stripping, until `npm run build`, so a stale build never
// runs. AGENT_RUN_SOURCES=1 runs the sources whatever the bundle's age;
// AGENT_PREFER_BUNDLE=1 runs the bundle whatever its age (the benchmarks do).
import { builtin, runWithCodeCache } from './code-cache.js'
import { holdYoungGeneration } from './young-generation.js'
import { holdOptimizingCompilers } from './optimizing-compilers.js'

const { existsSync, readdirSync, statSync } = await builtin('node:fs')
const module = await builtin('node:module')
const { fileURLToPath } = await builtin('node:url')

const sources = new URL('./main.ts', import.meta.url)
const bundle = new URL('../dist/agent.cjs', import.meta.url)
/** What the bundle is built from. */
const SOURCE_DIRS = ['agent', 'gossip', 'membership', 'workloads', 'services', 'build']

/** The newest modification time of the .ts files under the source folders (a few hundred stats: ~1 ms). */
function newestSourceMs () {
  let newest = 0
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs)
    }
  }
  for (const dir of SOURCE_DIRS) {
    const path = fileURLToPath(new URL(`../${dir}`, import.meta.url))
    if (existsSync(path)) walk(path)
  }
  return newest
}

function runSources () {
  if (!existsSync(sources)) return false
  if (process.env.AGENT_RUN_SOURCES === '1' || !existsSync(bundle)) return true
  if ((process.env.AGENT_PREFER_BUNDLE ?? '') !== '') return false
  return newestSourceMs() > statSync(bundle).mtimeMs
}

/** The V8 flags the agent runs with: set before its code is compiled, as they are part of a code cache's check. */
function setFlags () {
  holdYoungGeneration()
  holdOptimizingCompilers()
}

if (runSources()) {
  setFlags()
  // Cache compiled code on disk (Node >= 22.1): later starts skip most of the parsing.
  module.enableCompileCache?.()
  await import(sources.href)
} else {
  runWithCodeCache(fileURLToPath(bundle), setFlags)
}
