/**
 * `gossip-cluster-agent/testkit`: clusters of agents in one `node:test` file,
 * faults as commands, waits that never sleep blindly (docs/testkit.md).
 *
 *   const cluster = await createTestCluster({ size: 5, mode: 'simulated', seed: 42 })
 *   await cluster.converged()
 *   await cluster.partition([0, 1], [2, 3, 4])
 *   await cluster.memberIs(0, 4, 'failed', 'partition')
 */
import { SimulatedTestCluster } from './simulated.ts'
import { UnsupportedError, type TestCluster, type TestClusterOptions } from './types.ts'
import type { InProcessTestCluster } from './in-process.ts'
import type { ProcessesTestCluster } from './processes.ts'

export * from './types.ts'
export type { SimulatedTestCluster, InProcessTestCluster, ProcessesTestCluster }
export type { AgentProcess } from './agent-process.ts'

/** A cluster of `size` agents in `mode`; each mode's handle adds what only it has (`agent(i)` in process, `process(i)` in processes). */
export async function createTestCluster (opts: TestClusterOptions & { mode: 'simulated' }): Promise<SimulatedTestCluster>
export async function createTestCluster (opts: TestClusterOptions & { mode: 'in-process' }): Promise<InProcessTestCluster>
export async function createTestCluster (opts: TestClusterOptions & { mode: 'processes' }): Promise<ProcessesTestCluster>
export async function createTestCluster (opts: TestClusterOptions): Promise<TestCluster>
export async function createTestCluster (opts: TestClusterOptions): Promise<TestCluster> {
  if (!Number.isInteger(opts.size) || opts.size < 1) throw new RangeError(`size must be a positive integer, got ${String(opts.size)}`)
  switch (opts.mode) {
    case 'simulated': return new SimulatedTestCluster(opts)
    case 'in-process': {
      // Loaded only here: a simulated cluster needs no libp2p.
      const { InProcessTestCluster } = await import('./in-process.ts')
      return await InProcessTestCluster.create(opts)
    }
    case 'processes': {
      const { ProcessesTestCluster } = await import('./processes.ts')
      return await ProcessesTestCluster.create(opts)
    }
    default:
      throw new UnsupportedError(`unknown mode ${JSON.stringify(opts.mode)} (simulated, in-process, processes)`)
  }
}
