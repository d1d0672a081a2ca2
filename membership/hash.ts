/**
 * A 32-bit string hash for placement and comparison, not for security (its
 * inputs are public): FNV-1a with murmur3's finalizer. The finalizer matters
 * for the ring: without it ids that differ in their last characters (node-017,
 * node-018) land next to each other. `seed` replaces FNV's offset basis, which
 * gives further hashes of the same text that do not collide together.
 */
export function hash32 (text: string, seed = 0x811c9dc5): number {
  let h = seed
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
