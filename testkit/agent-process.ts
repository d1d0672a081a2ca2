/**
 * One `agent` process, started as a user starts it and known by what it
 * prints: its peer id, listen addresses and control address, from the start
 * banner (readable lines) or the `agent:started` record (JSON lines). Used by
 * the test kit's `processes` mode and by the project's own process tests.
 */
import { spawn, type ChildProcess } from 'node:child_process'

export interface AgentProcess {
  name: string
  child: ChildProcess
  peerId: string
  /** Full listen multiaddrs with /p2p/<id>. */
  multiaddrs: string[]
  /** The control API's HOST:PORT. */
  rpc: string
  /** Everything the process printed so far (stdout and stderr). */
  output: () => string
  /** Its exit code (null when ended by a signal). */
  exited: Promise<number | null>
}

export interface LaunchOptions {
  /** What the process is called in errors. */
  name: string
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** How long it may take to print its addresses. */
  startTimeoutMs: number
}

/** Starts `command args` and resolves once the agent printed its peer id, addresses and control address. */
export async function launchAgent (command: string, args: string[], opts: LaunchOptions): Promise<AgentProcess> {
  const child = spawn(command, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  const spawnError = new Promise<Error>(resolve => child.on('error', resolve))
  let failed: Error | undefined
  void spawnError.then(err => { failed = err })
  const deadline = Date.now() + opts.startTimeoutMs
  while (Date.now() < deadline && failed == null) {
    const started = startedIn(out)
    if (started != null) return { name: opts.name, child, ...started, output: () => out, exited }
    if (child.exitCode != null) break
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  child.kill('SIGKILL')
  throw new Error(`agent ${opts.name} did not start${failed != null ? ` (${failed.message})` : ''}:\n${out}`)
}

/** The peer id, addresses and control address from an agent's start banner (text) or start record (JSON); undefined before it. */
export function startedIn (out: string): { peerId: string, multiaddrs: string[], rpc: string } | undefined {
  const record = /^\{.*"event":"agent:started".*\}$/m.exec(out)
  if (record != null) {
    const r = JSON.parse(record[0]) as { peerId: string, listen: string[], control: string }
    return { peerId: r.peerId, multiaddrs: r.listen, rpc: r.control.replace(/^http:\/\//, '') }
  }
  const control = /control:\s+http:\/\/([^\s]+)/.exec(out)
  if (control == null) return undefined
  return { peerId: /peer id:\s+(\S+)/.exec(out)![1], multiaddrs: [...out.matchAll(/listen:\s+(\S+)/g)].map(m => m[1]), rpc: control[1] }
}

/** kill -9, waking a frozen process first; resolves once it has exited. */
export async function killAgent (agent: AgentProcess): Promise<void> {
  if (agent.child.exitCode == null && agent.child.signalCode == null) {
    agent.child.kill('SIGCONT')
    agent.child.kill('SIGKILL')
  }
  await agent.exited
}
