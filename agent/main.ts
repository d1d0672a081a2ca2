/** Process entry point of the `agent` command: runs the CLI and exits with its code. */
import { main } from './cli.ts'

const code = await main(process.argv.slice(2))
process.exit(code)
