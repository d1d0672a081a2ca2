/**
 * The cluster key: a libp2p private-network pre-shared key (gossip/pnet.ts,
 * wire-compatible with `@libp2p/pnet`).
 *
 * With a key, every connection is wrapped in XSalsa20 keyed by it before
 * anything else is said (even the multistream-select of noise), so a host
 * without the key sees random bytes and its handshake fails: it never reaches
 * the SWIM protocol and never becomes a member. The key file is pnet's v1
 * format (what `generateKey` writes, go-libp2p's `swarm.key`):
 *
 *   /key/swarm/psk/1.0.0/
 *   /base16/
 *   <64 hex digits>
 *
 * pnet itself cannot tell "another key" from "garbage": both show up as a
 * failed upgrade. `clusterKeyGuard` wraps the protector so that every
 * connection that was protected but never became a libp2p connection is
 * counted and reported (`onRefused`), with its remote address.
 *
 * The protector is imported only when a key is in use: an agent without one
 * never loads the cipher.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { ConnectionProtector, Libp2p, MultiaddrConnection } from '@libp2p/interface'

export class InvalidClusterKeyError extends Error {
  override name = 'InvalidClusterKeyError'
}

const HEADER = '/key/swarm/psk/1.0.0/'
const CODEC = '/base16/'
const HEX_KEY = /^[0-9a-fA-F]{64}$/

/** Checks pnet's v1 format and returns the bytes pnet expects; throws InvalidClusterKeyError naming `where`. */
export function parseClusterKey (bytes: Uint8Array, where = 'cluster key'): Uint8Array {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new InvalidClusterKeyError(`${where} is not text (expected a pnet key file; create one with \`agent keygen FILE\`)`)
  }
  const [header, codec, key] = text.trim().split(/\r\n|\r|\n/)
  if (header !== HEADER || codec !== CODEC || key == null || !HEX_KEY.test(key)) {
    throw new InvalidClusterKeyError(`${where} is not a pnet key file ("${HEADER}", "${CODEC}", 64 hex digits); create one with \`agent keygen FILE\``)
  }
  // Normalised: pnet splits on line breaks and reads the third line as hex.
  return new TextEncoder().encode(`${HEADER}\n${CODEC}\n${key.toLowerCase()}`)
}

/** Reads and checks a key file. */
export async function loadClusterKey (path: string): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw new InvalidClusterKeyError(`cannot read the cluster key ${path}: ${(err as Error).message}`)
  }
  return parseClusterKey(bytes, path)
}

/** A new random key in pnet's file format (what pnet's `generateKey` writes). */
export function newClusterKey (): Uint8Array {
  const hex = bytesToHex(crypto.getRandomValues(new Uint8Array(32)))
  return new TextEncoder().encode(`${HEADER}\n${CODEC}\n${hex}`)
}

/**
 * Writes a new key to `path` with mode 0600. Never overwrites: replacing the
 * key of a running cluster by accident would split it (see docs/security.md, rotation).
 */
export async function writeClusterKey (path: string): Promise<void> {
  try {
    await writeFile(path, newClusterKey(), { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new InvalidClusterKeyError(`${path} exists; not overwriting a key`)
    throw err
  }
}

export interface ClusterKeyGuardStats {
  /** Connections whose cluster-key handshake failed: a peer with another key, no key, or garbage. */
  handshakeFailures: number
}

export interface ClusterKeyGuard {
  /** The libp2p `connectionProtector` option. */
  protector: (components: any) => ConnectionProtector
  /** Call once the node exists: tells successful upgrades from failed ones. */
  attach: (libp2p: Libp2p) => void
  stats: () => ClusterKeyGuardStats
}

/** Bound on connections tracked mid-upgrade; past it the oldest is forgotten (not counted). */
const MAX_PENDING = 1024

/**
 * The pre-shared key protector (gossip/pnet.ts), counting refused
 * connections. A connection is refused when protect() fails (a peer without a
 * key does not send the 24-byte nonce in time) or when the raw connection
 * closes before libp2p reports it open (the other key's stream decrypts to
 * garbage and the upgrade fails).
 */
export async function clusterKeyGuard (key: Uint8Array, onRefused: (remoteAddr: string, why: string) => void): Promise<ClusterKeyGuard> {
  const { preSharedKey } = await import('./pnet.ts')
  const inner = preSharedKey({ psk: key })
  const counters: ClusterKeyGuardStats = { handshakeFailures: 0 }
  /** Raw connections protected but not yet upgraded, by remote address. */
  const pending = new Map<string, MultiaddrConnection>()
  const refuse = (addr: string, why: string): void => {
    counters.handshakeFailures++
    try { onRefused(addr, why) } catch {}
  }
  return {
    protector: (): ConnectionProtector => {
      const protector = inner()
      return {
        protect: async (connection, options) => {
          // libp2p hands the protector the raw connection, which knows its remote address.
          const maConn = connection as MultiaddrConnection
          const addr = addressKey(String(maConn.remoteAddr))
          let stream
          try {
            stream = await protector.protect(maConn, options)
          } catch (err) {
            refuse(addr, `no cluster key exchange (${(err as Error).name})`)
            throw err
          }
          pending.set(addr, maConn)
          if (pending.size > MAX_PENDING) pending.delete(pending.keys().next().value as string)
          maConn.addEventListener('close', () => {
            if (pending.get(addr) !== maConn) return
            pending.delete(addr)
            refuse(addr, 'handshake failed after the key exchange (another cluster key?)')
          }, { once: true })
          return stream
        }
      }
    },
    attach: (libp2p: Libp2p) => {
      libp2p.addEventListener('connection:open', (evt) => {
        pending.delete(addressKey(evt.detail.remoteAddr.toString()))
      })
    },
    stats: () => ({ ...counters })
  }
}

/** A remote address without its `/p2p/<id>` suffix: the key shared by the raw and the upgraded connection. */
function addressKey (addr: string): string {
  const at = addr.indexOf('/p2p/')
  return at < 0 ? addr : addr.slice(0, at)
}
