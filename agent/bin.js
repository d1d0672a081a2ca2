#!/usr/bin/env node
// The `agent` binary. In a checkout it runs the TypeScript sources through
// Node's type stripping (never a stale build). The published package has no
// sources: it runs dist/agent.mjs, the whole agent bundled into one file, which
// starts in about half the time of loading libp2p's modules one by one.
// AGENT_PREFER_BUNDLE=1 runs the bundle in a checkout too (the benchmarks do).
import { existsSync } from 'node:fs'
import module from 'node:module'

// Cache compiled code on disk (Node >= 22.1): later starts skip most of the parsing.
module.enableCompileCache?.()
const sources = new URL('./main.ts', import.meta.url)
const bundle = new URL('../dist/agent.mjs', import.meta.url)
const useSources = existsSync(sources) && (process.env.AGENT_PREFER_BUNDLE == null || !existsSync(bundle))
await import(useSources ? sources.href : bundle.href)
