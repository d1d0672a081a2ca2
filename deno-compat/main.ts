/**
 * Deno entry point of the `agent` command: the same CLI as the Node entry
 * (agent/main.ts), same flags and subcommands.
 *
 *   deno run -A deno-compat/main.ts --join /ip4/127.0.0.1/tcp/7946
 *   deno run -A deno-compat/main.ts members --rpc 127.0.0.1:7373
 *
 * Nothing else is needed: Deno runs the TypeScript sources as they are and
 * provides what the agent uses from Node (node:http, node:net, node:util
 * parseArgs, process signals). The npm packages come from the repository's
 * node_modules (`npm ci`), so no download happens at run time; from the
 * repository root Deno finds them through package.json, and deno-compat/deno.json
 * maps the same packages for `deno task` run in this folder.
 *
 * On a small device run the bundle instead (`npm run build`, then
 * `deno task agent:edge`): the same CLI in one minified file, ~25 MB less
 * resident on Deno (docs/usage.md, On Deno; docs/benchmarks.md, Footprint).
 */
import { main } from '../agent/cli.ts'

const code = await main(Deno.args)
Deno.exit(code)
