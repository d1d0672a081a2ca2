#!/usr/bin/env node
// The `agent` binary. In a checkout it runs the TypeScript sources through
// Node's type stripping (never a stale build). The published package has no
// sources: it runs dist/agent.cjs, the whole agent bundled into one script,
// with a code cache taken from a running agent (agent/code-cache.js): it starts
// in a fraction of the time of loading libp2p's modules one by one.
// AGENT_PREFER_BUNDLE=1 runs the bundle in a checkout too (the benchmarks do).
import { existsSync } from 'node:fs'
import module from 'node:module'
import { fileURLToPath } from 'node:url'
import { runWithCodeCache } from './code-cache.js'

const sources = new URL('./main.ts', import.meta.url)
const bundle = new URL('../dist/agent.cjs', import.meta.url)
if (existsSync(sources) && (process.env.AGENT_PREFER_BUNDLE == null || !existsSync(bundle))) {
  // Cache compiled code on disk (Node >= 22.1): later starts skip most of the parsing.
  module.enableCompileCache?.()
  await import(sources.href)
} else {
  runWithCodeCache(fileURLToPath(bundle))
}
