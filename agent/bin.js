#!/usr/bin/env node
// The `agent` binary. The published package runs dist/agent.mjs, the whole
// agent bundled into one file: it starts in about half the time of loading
// libp2p's hundreds of modules one by one. A checkout (no dist/) runs the
// TypeScript sources through Node's type stripping.
import { existsSync } from 'node:fs'
import module from 'node:module'

// Cache compiled code on disk (Node >= 22.1): later starts skip most of the parsing.
module.enableCompileCache?.()
const bundle = new URL('../dist/agent.mjs', import.meta.url)
await import(existsSync(bundle) ? bundle.href : new URL('./main.ts', import.meta.url).href)
