/**
 * The node's libp2p key: generated per start, or kept in the data dir so that
 * the peer id (the member's identity) survives restarts.
 */
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { bytesToHex } from '@noble/hashes/utils.js'

export const KEY_FILE = 'node.key'

export class UnreadableKeyError extends Error {
  override name = 'UnreadableKeyError'
}

/** Loads `<dataDir>/node.key`, creating it (mode 0600) if absent. Without a data dir, a fresh key. */
export async function loadOrCreateKey (dataDir?: string): Promise<PrivateKey> {
  if (dataDir == null) return await generateKeyPair('Ed25519')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, KEY_FILE)
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (bytes != null) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new UnreadableKeyError(`${path} is not a libp2p private key (${(err as Error).message}); move it away to create a new identity`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  // Write then rename, so a crash never leaves a half-written key behind.
  const tmp = `${path}.tmp`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await rename(tmp, path)
  return key
}

/** A new boot id: random per process start, so others can tell a restart (membership/types.ts bootId). */
export function randomBootId (): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(8)))
}
