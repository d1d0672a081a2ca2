/**
 * `agent keygen FILE`: a new cluster key (pnet format, mode 0600).
 * `agent keygen --rpc-token FILE`: a new control API token (mode 0600).
 * Neither overwrites an existing file.
 */
import { writeRpcToken } from './rpc-token.ts'

export async function keygen (args: string[], usageError: (why: string) => Error): Promise<number> {
  const token = args[0] === '--rpc-token'
  const files = token ? args.slice(1) : args
  if (files.length !== 1 || files[0].startsWith('-')) throw usageError('keygen expects one FILE (or --rpc-token FILE)')
  if (token) {
    await writeRpcToken(files[0])
    console.log(`wrote a new control API token to ${files[0]} (mode 0600)`)
    return 0
  }
  // Loaded here: only this subcommand needs pnet.
  const { writeClusterKey } = await import('../gossip/cluster-key.ts')
  await writeClusterKey(files[0])
  console.log(`wrote a new cluster key to ${files[0]} (mode 0600); copy it to every member and start them with --cluster-key ${files[0]}`)
  return 0
}
