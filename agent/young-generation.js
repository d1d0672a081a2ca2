// Keeps V8's young generation at its starting size in the `agent` process.
//
// V8 doubles the young generation (up to 2 × 16-32 MiB) while a process
// allocates fast, and an agent does in a start storm (handshakes, syncs,
// gossip of every join). The pages it grew into stay resident after the
// storm: in 100 agents started together on two cores, idle agents held 32-97
// MB of V8 mappings against 31-41 MB with the young generation held at its
// starting size (docs/scale.md, "The young generation after a start"). An
// idle agent allocates little, so scavenging a small young generation more
// often costs it nothing measurable; a start of 50 agents about 0.05 s of CPU
// each.
//
// `--max-semi-space-size` can only be given when the process starts; V8 reads
// the growth factor each time it grows the space, so setting it to 1 early has
// the same effect for a plain `node agent/bin.js`. Early means before the
// bundle is compiled: V8's flags are part of a code cache's check
// (agent/code-cache.js), and a cache written with one set is rejected by a
// process that had another when it loaded the bundle. Not before Node's
// built-ins are loaded, though: they have a code cache too, Node's own, built
// with V8's default flags (agent/code-cache.js loadBuiltinsNamedIn). A process
// started with a young-generation flag of its own keeps it.

const OWN_FLAG = /--(max|min)-semi-space-size|--semi-space-growth-factor/

export function holdYoungGeneration () {
  if (process.execArgv.some(arg => OWN_FLAG.test(arg)) || OWN_FLAG.test(process.env.NODE_OPTIONS ?? '')) return
  process.getBuiltinModule('node:v8').setFlagsFromString('--semi-space-growth-factor=1')
}
