/**
 * The body of one task thread (see task-threads.ts): runs CPU-bound built-in
 * tasks off the agent's event loop, one at a time. Only built-ins can run
 * here: a thread cannot receive a function, so it looks the workload up by
 * name. Messages: in `{ workload, task }`, out `{ ok, value | error }`.
 */
import { parentPort } from 'node:worker_threads'
// builtins.ts alone, not the work core's index: the thread bundle carries only what it runs
import { builtinWorkloads } from '../workloads/builtins.ts'

const registry = builtinWorkloads()
const never = new AbortController().signal

parentPort?.on('message', (msg: { workload: string, task: unknown, node: string }) => {
  const workload = registry.get(msg.workload)
  if (workload == null) {
    parentPort?.postMessage({ ok: false, error: `workload ${msg.workload} cannot run in a thread` })
    return
  }
  // Aborts terminate the whole thread, so the task never needs the signal.
  workload.run(msg.task, { signal: never, node: msg.node, tags: {} }).then(
    (value: unknown) => { parentPort?.postMessage({ ok: true, value }) },
    (err: unknown) => { parentPort?.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) }) }
  )
})
