/** Flag parsing shared by the CLI subcommands: strict, with usage errors the CLI prints with its help. */
import { parseArgs, type ParseArgsConfig } from 'node:util'

export class UsageError extends Error {
  override name = 'UsageError'
}

/** Parses flags (no positionals unless `positionals` is set); unknown flags are a UsageError. */
export function parse (args: string[], options: ParseArgsConfig['options'], positionals = false): Record<string, any> & { _: string[] } {
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals })
    return { ...parsed.values, _: parsed.positionals }
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/** Repeated `KEY=VALUE` flags (`--tag`, `--env`) as an object; `valueName` names the value in the usage error. */
export function parsePairs (values: string[], flag: string, valueName = 'VALUE'): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of values) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new UsageError(`${flag} expects KEY=${valueName}, got "${pair}"`)
    out[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return out
}
