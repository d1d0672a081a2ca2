/**
 * Bounds on the JSON values that travel between members: task inputs, task
 * results and job results. The codec refuses a message that breaks them on
 * arrival; the core turns a result of its own that breaks them into a failed
 * run (or a failed job), so that it is reported instead of lost with a
 * message the transport would drop.
 */

/**
 * Nesting of a task input, result or job result. No workload needs more; a
 * deeper value is refused before anything stores it or encodes it again
 * (JSON.stringify overflows the stack on a value nested ~10,000 deep, and
 * every lookup that returned it would fail).
 */
export const MAX_JSON_DEPTH = 32
/** Largest task result, as JSON: several fit in one message, and a job's result is built from them. */
export const MAX_RESULT_BYTES = 1024 * 1024
/** Largest job result, as JSON: it travels in one job-end message, which every node caches. */
export const MAX_JOB_RESULT_BYTES = 2 * 1024 * 1024

export class ValueBoundError extends Error {
  override name = 'ValueBoundError'
}

const encoder = new TextEncoder()

/** Throws ValueBoundError if `value` nests deeper than MAX_JSON_DEPTH. */
export function checkDepth (value: unknown, what: string, depth = 0): void {
  if (value == null || typeof value !== 'object') return
  if (depth >= MAX_JSON_DEPTH) throw new ValueBoundError(`${what} nests deeper than ${MAX_JSON_DEPTH} levels`)
  for (const v of Array.isArray(value) ? value : Object.values(value)) checkDepth(v, what, depth + 1)
}

/** Why `value` cannot travel as `what` (too deep, over `maxBytes` as JSON, not JSON), or undefined when it can. */
export function unsendable (value: unknown, what: string, maxBytes: number): string | undefined {
  try {
    checkDepth(value, what)
    const bytes = encoder.encode(JSON.stringify(value ?? null)).byteLength
    if (bytes > maxBytes) return `${what} is ${bytes} bytes as JSON, over the limit of ${maxBytes}`
    return undefined
  } catch (err) {
    return err instanceof ValueBoundError ? err.message : `${what} is not JSON: ${(err as Error).message}`
  }
}
