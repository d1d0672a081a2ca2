// Keeps V8's optimizing compilers (Maglev and TurboFan) off in the `agent`
// process until it has CPU work to do (agent/compiler-release.ts turns them
// back on: task threads, or an agent busy for a while).
//
// An idle agent's code never gets hot enough for optimized code to pay: it
// sends a probe and an ack a second. But over a minute in a cluster some of
// its functions cross V8's tier-up thresholds all the same, and compiling them
// touches the compilers' code in the Node binary and their zone memory, which
// stay resident: 10 agents started together and idle (docs/scale.md,
// "Optimizing compilers held while idle") had 81 MB of RSS with the compilers
// and 69 MB without, at the same start CPU and idle CPU. Sparkplug, the
// baseline compiler, stays on: a tight loop takes 1.05-1.2x the time of
// optimized code with it, 1.5x in the interpreter alone.
//
// `--jitless` or `--max-opt` would have to be given when Node starts, which
// the `agent` binary does not control (`node agent/bin.js`, npm's bin link, a
// service file); these two flags V8 reads each time it decides to optimize.
// Set before the bundle is compiled, as agent/young-generation.js is: V8's
// flags are part of a code cache's check (agent/code-cache.js). A process
// started with a flag of its own about compilers keeps it.

const OWN_FLAG = /--(no-)?(maglev|turbofan|jitless|max-opt|lite-mode)\b/
/** Where agent/compiler-release.ts, inside the bundle, finds whether the compilers are held. */
const HELD = Symbol.for('agent.optimizingCompilersHeld')

export function holdOptimizingCompilers () {
  if (process.execArgv.some(arg => OWN_FLAG.test(arg)) || OWN_FLAG.test(process.env.NODE_OPTIONS ?? '')) return
  const v8 = process.getBuiltinModule('node:v8')
  v8.setFlagsFromString('--no-maglev')
  v8.setFlagsFromString('--no-turbofan')
  globalThis[HELD] = true
}
