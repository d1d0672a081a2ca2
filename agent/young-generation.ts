/**
 * Keeps V8's young generation at its starting size in the agent's process.
 *
 * V8 doubles the young generation (up to 2 × 16-32 MiB) while a process
 * allocates fast, and an agent does in a start storm (handshakes, syncs,
 * gossip of every join). The pages it grew into stay resident after the
 * storm: in 100 agents started together on two cores, idle agents held 36-98
 * MB of V8 pages against 31-41 MB with the young generation held at its
 * starting size, and the start was no slower (docs/scale.md, "The young
 * generation after a start"). An idle agent allocates little, so scavenging
 * a small young generation more often costs nothing measurable.
 *
 * `--max-semi-space-size` can only be given when the process starts; the
 * growth factor is read each time V8 grows the space, so setting it to 1 here,
 * before the agent starts, has the same effect for a plain `node agent/bin.js`.
 * A process started with its own young-generation flag keeps it. Node only:
 * Deno takes V8 flags from `DENO_V8_FLAGS` (docs/configuration.md).
 */
import { setFlagsFromString } from 'node:v8'

const OWN_FLAG = /--(max|min)-semi-space-size|--semi-space-growth-factor/

export function holdYoungGeneration (): void {
  if ((process.versions as { deno?: string }).deno != null) return
  if (process.execArgv.some(arg => OWN_FLAG.test(arg)) || OWN_FLAG.test(process.env.NODE_OPTIONS ?? '')) return
  setFlagsFromString('--semi-space-growth-factor=1')
}
