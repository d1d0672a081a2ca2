/** Small statistics helpers for benchmark reports. */

/** The arithmetic mean (NaN for an empty list). */
export function mean (values: number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length
}

/** The median, ignoring NaN (a measurement that did not happen). */
export function median (values: number[]): number {
  const sorted = values.filter(v => !Number.isNaN(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
