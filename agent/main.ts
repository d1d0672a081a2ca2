/**
 * Process entry point of the `agent` command: runs the CLI and exits with its code.
 * No top-level await: the same entry is bundled as an ES module and as the
 * CommonJS script that agent/bin.js runs with a code cache.
 */
import { main } from './cli.ts'

main(process.argv.slice(2)).then(code => process.exit(code), (err: unknown) => {
  console.error(err)
  process.exit(1)
})
