/**
 * How Deno runs the agent on a small device (docs/configuration.md, Profiles): what
 * `deno task agent:edge` in deno.json sets (a unit test keeps the two in
 * step), and what the footprint bench and the package test run with.
 *
 * - DENO_V8_FLAGS: a 1 MiB young generation (default 16 MiB+ per semi-space
 *   on 64-bit) and no TurboFan (Maglev still optimises hot code).
 * - MALLOC_ARENA_MAX=1: one glibc malloc arena for all of Deno's threads.
 * - DENO_NO_UPDATE_CHECK=1: no DNS lookup of Deno's release server at start.
 */
export const DENO_EDGE_ENV: Record<string, string> = {
  DENO_V8_FLAGS: '--max-semi-space-size=1,--no-opt',
  MALLOC_ARENA_MAX: '1',
  DENO_NO_UPDATE_CHECK: '1'
}
