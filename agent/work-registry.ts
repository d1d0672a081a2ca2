/**
 * The workloads this node can coordinate and run: the built-ins (and `exec`
 * when allowed), plus what an embedding program registers through
 * `agent.workloads`, checked before it joins the registry.
 */
import { builtinWorkloads, JobRejectedError, type Workload } from '../workloads/index.ts'
import { exec } from './exec-workload.ts'

/** Names reserved for built-ins: register() refuses them. */
const BUILTIN_NAMES = new Set([...builtinWorkloads().keys(), 'exec'])
const WORKLOAD_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

/** What `agent.workloads` offers an embedding program. */
export interface WorkloadsApi {
  /** Adds a workload this node can coordinate and run. Register it on every node that should run its tasks. */
  register: (name: string, workload: Workload) => void
  /** Names and descriptions of the workloads this node has. */
  list: () => Array<{ name: string, kind: string, description: string }>
}

/**
 * Refuses `exec` on an agent that does not allow it, saying how to allow it
 * (the registry alone would call it unknown).
 */
export function checkExecAllowed (workload: string, registry: Map<string, Workload>): void {
  if (workload === 'exec' && !registry.has('exec')) {
    throw new JobRejectedError('the exec workload is disabled on this agent: start the agent with --allow-exec (with --cluster-key; --allow-exec-open on an open cluster) to enable it')
  }
}

/** A registry holding the built-ins, and `exec` if this agent allows it. */
export function builtinRegistry (allowExec: boolean): Map<string, Workload> {
  const registry = new Map<string, Workload>()
  for (const [name, workload] of builtinWorkloads()) registry.set(name, workload)
  if (allowExec) registry.set('exec', exec)
  return registry
}

/** `agent.workloads` over `registry`: register() checks the name and the workload's shape before adding it. */
export function workloadsApi (registry: Map<string, Workload>): WorkloadsApi {
  return {
    register: (name, workload) => {
      if (!WORKLOAD_NAME.test(name)) throw new TypeError(`workload name "${name}" must match ${String(WORKLOAD_NAME)}`)
      if (BUILTIN_NAMES.has(name)) throw new TypeError(`workload name "${name}" is reserved for a built-in`)
      if (workload == null || (workload.kind !== 'map' && workload.kind !== 'broadcast') ||
          typeof workload.validate !== 'function' || typeof workload.run !== 'function' || typeof workload.reduce !== 'function' ||
          (workload.kind === 'map' && typeof workload.split !== 'function')) {
        throw new TypeError(`workload "${name}" needs kind (map|broadcast), validate, run, reduce, and split for map`)
      }
      registry.set(name, { ...workload, cpuBound: false, description: workload.description ?? name })
    },
    list: () => [...registry].map(([name, w]) => ({ name, kind: w.kind, description: w.description })).sort((a, b) => a.name.localeCompare(b.name))
  }
}
