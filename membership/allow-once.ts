/**
 * A per-key minimum gap over a bounded map, for what the core does at most
 * once in a while per peer (answers, corrections, pulls from strangers).
 */

/**
 * The key's gap over a map of at most `maxEntries` keys (oldest dropped first):
 * true, and records `now`, when `key` was not allowed within the last `gapMs`.
 */
export function allowOnce (map: Map<string, number>, key: string, now: number, gapMs: number, maxEntries = 256): boolean {
  const last = map.get(key)
  if (last != null && now - last < gapMs) return false
  map.delete(key)
  map.set(key, now)
  if (map.size > maxEntries) {
    const oldest = map.keys().next().value
    if (oldest != null) map.delete(oldest)
  }
  return true
}
