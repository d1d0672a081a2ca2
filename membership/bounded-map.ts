/**
 * Maps the core keeps bounded, oldest entries dropped first (a Map iterates in
 * insertion order): per-peer memories such as tombstones, ack spans, failed
 * probes, and the per-key minimum gaps of what the core does at most once in
 * a while per peer (answers, corrections, pulls from strangers).
 */

/** Sets `key` to `value` as the map's newest entry; past `maxEntries`, the oldest goes. */
export function setNewest<K, V> (map: Map<K, V>, key: K, value: V, maxEntries: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > maxEntries) map.delete(map.keys().next().value as K)
}

/**
 * The key's gap over a map of at most `maxEntries` keys (oldest dropped first):
 * true, and records `now`, when `key` was not allowed within the last `gapMs`.
 */
export function allowOnce (map: Map<string, number>, key: string, now: number, gapMs: number, maxEntries = 256): boolean {
  const last = map.get(key)
  if (last != null && now - last < gapMs) return false
  setNewest(map, key, now, maxEntries)
  return true
}
