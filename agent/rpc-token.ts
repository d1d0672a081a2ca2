/**
 * The control API token: a shared secret every request carries as
 * `Authorization: Bearer <token>`. Needed when the API listens off loopback,
 * optional on loopback (where it also keeps other local users out).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { timingSafeEqual, createHash } from 'node:crypto'

export class InvalidRpcTokenError extends Error {
  override name = 'InvalidRpcTokenError'
}

/** Shortest token accepted: 16 characters. A generated one (`agent keygen --rpc-token`) has 43. */
export const MIN_TOKEN_CHARS = 16
const MAX_TOKEN_CHARS = 1024
/** Printable ASCII without spaces: what fits a header unquoted. */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/

export function checkToken (token: string, where = 'rpc token'): string {
  if (token.length < MIN_TOKEN_CHARS || token.length > MAX_TOKEN_CHARS || !TOKEN_PATTERN.test(token)) {
    throw new InvalidRpcTokenError(`${where}: a token is ${MIN_TOKEN_CHARS} to ${MAX_TOKEN_CHARS} printable ASCII characters without spaces`)
  }
  return token
}

/** Reads a token file (surrounding whitespace ignored). */
export async function loadRpcToken (path: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new InvalidRpcTokenError(`cannot read the rpc token ${path}: ${(err as Error).message}`)
  }
  return checkToken(text.trim(), path)
}

/** Resolves the `rpcToken` option: a path is read, `{ token }` is checked. */
export async function resolveRpcToken (option: string | { token: string } | undefined): Promise<string | undefined> {
  if (option == null) return undefined
  return typeof option === 'string' ? await loadRpcToken(option) : checkToken(option.token)
}

/** 32 random bytes, base64url: 43 characters. */
export function newRpcToken (): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
}

/** Writes a new token file, mode 0600, never overwriting. */
export async function writeRpcToken (path: string): Promise<void> {
  try {
    await writeFile(path, newRpcToken() + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new InvalidRpcTokenError(`${path} exists; not overwriting a token`)
    throw err
  }
}

/**
 * True when the `Authorization` header carries `token`. Both sides are hashed
 * first so that the comparison is constant-time whatever their lengths.
 */
export function authorized (header: string | undefined, token: string): boolean {
  if (typeof header !== 'string') return false
  const match = /^Bearer +(\S+) *$/i.exec(header)
  if (match == null) return false
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()
  return timingSafeEqual(digest(match[1]), digest(token))
}
