/**
 * Bundles an entry point and everything it imports into one minified file:
 * an ES module (OUTFILE.mjs) that runs on Node and on Deno, or a CommonJS
 * script (OUTFILE.cjs) for agent/bin.js, which runs it with a V8 code cache
 * (agent/code-cache.js). `npm run build` makes the agent's (dist/agent.mjs,
 * dist/agent.cjs) with it, and a device program that embeds the agent can use
 * it too:
 *
 *   node build/bundle.ts my-device.ts my-device.mjs
 *
 * Why each setting (docs/design.md, gossip/; docs/benchmarks.md, Footprint):
 * - minified: V8 and Deno each keep the source text; less than half the size
 *   is ~4 MB less resident on Deno.
 * - noise's WebAssembly ChaCha20-Poly1305 and SHA-256 are replaced by the
 *   JavaScript ones in build/wasm-free/ (no WebAssembly compiler in memory).
 *   The cluster key's XSalsa20 is JavaScript on every path (gossip/pnet.ts).
 * - a package installed several times at the same version (npm nests a copy
 *   under each dependant when another version is hoisted) is bundled once.
 * - `require` is defined, because CommonJS dependencies (ws) require Node's
 *   built-in modules.
 * - Node's built-in modules are loaded with that `require`, not `import`
 *   (builtinsByRequire below): an `import` of one makes Node build an ES module
 *   facade of it, which reads every export, lazy ones included; for
 *   `node:http` that loads undici (fetch, WebSocket), tens of ms at each start
 *   for code the agent never runs.
 * - the peer store orders strings by code unit, not with localeCompare
 *   (plainStringOrder below).
 * - the CommonJS script ends with a comment naming the built-in modules it
 *   requires (agent/code-cache.js BUILTINS_LINE), so that agent/bin.js loads
 *   them before it sets the V8 flags that would make V8 refuse Node's own
 *   code cache of them.
 */
import { existsSync, readFileSync } from 'node:fs'
import { appendFile, readFile } from 'node:fs/promises'
import { isBuiltin } from 'node:module'
import { dirname, join } from 'node:path'
import { build, type Plugin } from 'esbuild'
import { BUILTINS_LINE } from '../agent/code-cache.js'

const REPO = new URL('../', import.meta.url).pathname

/** Resolves every bare import as usual, then maps a second copy of `name@version` to the first one seen. */
function oneCopyPerVersion (): Plugin {
  const firstRoot = new Map<string, string>()
  return {
    name: 'one-copy-per-version',
    setup (b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === 'resolving') return undefined
        const resolved = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving' })
        if (resolved.errors.length > 0) return undefined // let esbuild report it as usual
        if (resolved.external || !resolved.path.includes('/node_modules/')) return resolved
        const pkg = packageOf(dirname(resolved.path))
        if (pkg == null) return resolved
        const key = `${pkg.name}@${pkg.version}`
        const first = firstRoot.get(key)
        if (first == null) {
          firstRoot.set(key, pkg.root)
          return resolved
        }
        return { ...resolved, path: first + resolved.path.slice(pkg.root.length) }
      })
    }
  }
}

/**
 * `import … from 'node:http'` (any built-in) becomes a CommonJS shim,
 * `module.exports = require('node:http')`: esbuild reads the shim's exports
 * through getters when they are used, so a lazy export (http's undici-backed
 * WebSocket) is only loaded if something uses it. `require` calls are left
 * as they are.
 */
function builtinsByRequire (): Plugin {
  return {
    name: 'builtins-by-require',
    setup (b) {
      b.onResolve({ filter: /^[a-z_:/0-9]+$/ }, (args) => {
        if (args.kind === 'require-call' || args.namespace === 'builtin' || !isBuiltin(args.path)) return undefined
        return { path: args.path.replace(/^node:/, ''), namespace: 'builtin' }
      })
      b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require('node:${args.path}')`, loader: 'js' }))
    }
  }
}

/**
 * libp2p's peer store sorts a peer's protocols, metadata keys and addresses
 * (and peer records their addresses) with String#localeCompare, only so that
 * equal records encode to equal bytes: an order nobody outside the process
 * sees. The first localeCompare in a process loads ICU's collation data,
 * about 6 ms of every agent's start (a CPU profile of a lone agent's start,
 * docs/scale.md). In those two packages a code-unit comparison replaces it.
 */
function plainStringOrder (): Plugin {
  return {
    name: 'plain-string-order',
    setup (b) {
      b.onLoad({ filter: /\/node_modules\/@libp2p\/(peer-store|peer-record)\/dist\/src\/.*\.js$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8')
        if (!source.includes('localeCompare')) return undefined
        // `x.localeCompare(` where x is a name, a property path or a call like `a.toString()`
        const rewritten = source.replace(/([\w$.]+(?:\(\))?)\.localeCompare\(/g, '__codeUnitOrder($1, ')
        if (rewritten.includes('localeCompare')) throw new Error(`plain-string-order: a localeCompare left in ${args.path}`)
        return { contents: `${rewritten}\nfunction __codeUnitOrder (a, b) { return a < b ? -1 : a > b ? 1 : 0 }\n`, loader: 'js' }
      })
    }
  }
}

interface PackageInfo { root: string, name: string, version: string }
/** By folder: the package each folder belongs to (most imports land in folders already seen). */
const packages = new Map<string, PackageInfo | undefined>()

/** The package a folder belongs to: the nearest package.json with a name (dist/ folders often hold one with only "type"). */
function packageOf (dir: string): PackageInfo | undefined {
  if (packages.has(dir)) return packages.get(dir)
  const manifest = join(dir, 'package.json')
  const own = existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string, version?: string } : {}
  const info = own.name != null
    ? { root: dir, name: own.name, version: own.version ?? '' }
    : dir === dirname(dir) ? undefined : packageOf(dirname(dir))
  packages.set(dir, info)
  return info
}

const [entry, outfile] = process.argv.slice(2)
if (entry == null || outfile == null) {
  console.error('usage: node build/bundle.ts ENTRY OUTFILE (.mjs: an ES module; .cjs: a CommonJS script)')
  process.exit(2)
}
// The CommonJS form is for agent/bin.js, which compiles it with a code cache
// (agent/code-cache.js); it has no import.meta, so its URL comes from __filename.
const commonJs = outfile.endsWith('.cjs')
const result = await build({
  entryPoints: [entry],
  metafile: commonJs,
  outfile,
  bundle: true,
  minify: true,
  // For attributing a CPU profile of the minified bundle to packages
  // (bench/startup/profile-by-package.mjs); never in what is installed.
  sourcemap: process.env.BUNDLE_SOURCEMAP === '1' ? 'external' : false,
  platform: 'node',
  format: commonJs ? 'cjs' : 'esm',
  target: 'node22',
  logLevel: 'warning',
  alias: {
    '@chainsafe/as-chacha20poly1305': join(REPO, 'build/wasm-free/chacha20poly1305.ts'),
    '@chainsafe/as-sha256': join(REPO, 'build/wasm-free/sha256.ts')
  },
  plugins: [builtinsByRequire(), oneCopyPerVersion(), plainStringOrder()],
  ...commonJs
    ? { define: { 'import.meta.url': '__bundleUrl' }, banner: { js: "var __bundleUrl = require('node:url').pathToFileURL(__filename).href;" } }
    : { banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" } }
})
if (commonJs) {
  const required = Object.values(result.metafile?.outputs ?? {}).flatMap(output => output.imports)
    .filter(imported => imported.external && isBuiltin(imported.path))
    .map(imported => imported.path.replace(/^node:/, ''))
  await appendFile(outfile, `\n${BUILTINS_LINE}${[...new Set(required)].sort().join(' ')}\n`)
}
