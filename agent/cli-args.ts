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
