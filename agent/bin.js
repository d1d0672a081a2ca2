#!/usr/bin/env node
// The `agent` binary. The published package runs the compiled JS in dist/;
// a checkout (no dist/) runs the TypeScript sources through Node's type stripping.
import { existsSync } from 'node:fs'

const compiled = new URL('../dist/agent/main.js', import.meta.url)
await import(existsSync(compiled) ? compiled.href : new URL('./main.ts', import.meta.url).href)
