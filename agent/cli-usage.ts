/**
 * The CLI's help: one entry per subcommand (what `agent SUBCOMMAND --help`
 * prints), the whole text (`agent help`), and the closest subcommand to a
 * mistyped one.
 */
import { DEFAULT_RPC } from './rpc-address.ts'

const RPC = '[--rpc HOST:PORT] [--rpc-token FILE]'

/** Usage of each subcommand; `run` is the agent itself (no subcommand). */
export const COMMAND_USAGE = {
  run: `  agent [--join ADDR]... [--listen ADDR]... [--name NAME] [--rpc HOST:PORT | --no-rpc]
        [--data-dir DIR [--rejoin]] [--profile lan|wan|local|edge] [--tag K=V]... [--announce ADDR]...
        [--slots N] [--allow-exec | --allow-exec-open] [--cluster-key FILE] [--rpc-token FILE]
        [--event-handler [FILTER=]COMMAND]... [--log-format json|text] [--log-level LEVEL]
        [--metrics-addr HOST:PORT] [--test-faults [--test-drop-from PEER]...]
      Run an agent in the foreground. SIGTERM or SIGINT leaves the cluster gracefully.
      --event-handler: run COMMAND (sh -c) on events; FILTER: a comma list of member-join,
      member-leave, member-failed, member-update, member-reap, member-degraded, user[:NAME],
      query[:NAME], partition-detected, partition-healed (default: all).
      --data-dir: keeps the key, members and services; restarted, the agent rejoins the members
      it knew (after a graceful leave only with --rejoin).
      --slots: tasks run at once (default: CPU count); --no-rpc: no control API;
      --allow-exec: enable the exec workload (needs --cluster-key; --allow-exec-open enables
      it on an open cluster, where anyone who reaches a gossip port can run commands here).
      --log-format: JSON lines (the default when stdout is not a terminal) or readable lines;
      --log-level: error, warn, info (default) or debug. The control API serves /metrics
      (Prometheus) and the web view at /ui/; --metrics-addr serves /metrics alone, tokenless.
      --test-faults: take link faults at /v1/test/drop-from (the test kit; control API on loopback);
      --test-drop-from: a peer whose messages are dropped from the start.`,
  members: `  agent members ${RPC} [--json] [--wide] [--all]
      Show the members this agent knows. --wide: every column (peer id, incarnation,
      all addresses and paths, tags); --all: also members failed or left over an hour ago.`,
  info: `  agent info ${RPC} [--json]
      This agent: name, peer id, addresses, whether it has joined (and why not), member counts.`,
  leave: `  agent leave ${RPC}
      Make the agent leave gracefully and exit.`,
  monitor: `  agent monitor ${RPC} [--json] [--log-level error|warn|info|debug]
      Stream the agent's events and log records as they happen, until Ctrl-C; reconnects
      when the agent restarts.`,
  'force-leave': `  agent force-leave NAME ${RPC}
      Retire a failed member (by name or peer id) cluster-wide: it becomes left, is no longer
      redialed, and is forgotten after 15 minutes. A member alive anywhere is not retired there.`,
  submit: `  agent submit WORKLOAD [--input JSON|@FILE] [--deadline DURATION] ${RPC} [--json] [--no-wait]
      Submit a job to this agent (it coordinates; any member runs tasks) and wait for its result.
      The job id is printed on stderr as soon as the job is accepted.
      --deadline (e.g. 90s, 10m): the job fails if it has not ended by then.
      --rpc may be given more than once: if the first agent is lost, the job is followed on the next.`,
  jobs: `  agent jobs ${RPC} [--json]
      Jobs known to this agent and the alive members.`,
  job: `  agent job ID ${RPC} [--json] [--wait]
      One job, from whichever member knows it.
  agent job cancel ID ${RPC} [--json]
      Stop a job, from any member.`,
  workloads: `  agent workloads ${RPC} [--json]
      Workloads this agent can run.`,
  service: `  agent service add NAME (--singleton | --replicas N) [--tag K=V]... [--env K=V]...
        [--check-http URL | --check-tcp HOST:PORT] [--check-interval DURATION] [--stop-grace DURATION]
        ${RPC} -- COMMAND [ARGS...]
      Define (or replace) a service the cluster keeps running: one instance (--singleton, never two
      at once) or N on distinct members. Only members started with --allow-exec run commands;
      --tag: only members with these tags. The instance gets AGENT_SERVICE, AGENT_NAME,
      AGENT_SERVICE_INSTANCE and AGENT_SERVICE_EPOCH (a fencing epoch that grows at every start).
  agent service rm NAME ${RPC}
      Remove a service: its instances stop everywhere.
  agent service logs NAME ${RPC} [--follow]
      Output of the service's instances, from every member that runs one (and this agent).`,
  event: `  agent event NAME [PAYLOAD|@FILE] [--coalesce] ${RPC}
      Send a user event to every member (payload up to 64 KiB): their user:NAME handlers run
      once. --coalesce: of events of one name within a second, handlers see only the last.`,
  query: `  agent query NAME [PAYLOAD|@FILE] [--node NAME]... [--tag K=REGEX]... [--timeout DURATION] ${RPC} [--json]
      Ask every member that matches all filters; each acknowledges and answers with its
      query:NAME handler's output. Prints acks and answers as they come, then who did not answer.`,
  services: `  agent services ${RPC} [--json]
      Every service, where its instances run, and why members are not eligible.`,
  keygen: `  agent keygen FILE
      Write a new cluster key (mode 0600) for --cluster-key.
  agent keygen --rpc-token FILE
      Write a new control API token (mode 0600) for --rpc-token.`,
  help: `  agent help [SUBCOMMAND]    This text, or one subcommand's.
  agent --version            The agent's version.`,
} as const

export type CommandName = keyof typeof COMMAND_USAGE

export const COMMANDS = Object.keys(COMMAND_USAGE).filter(c => c !== 'run') as CommandName[]

const FOOTER = `
  ADDR is a multiaddr, e.g. /ip4/10.0.0.5/tcp/7946 or /ip4/10.0.0.5/tcp/7947/ws/p2p/12D3Koo…
  Defaults: listen /ip4/0.0.0.0/tcp/7946 and /ip4/0.0.0.0/tcp/7947/ws, rpc ${DEFAULT_RPC}, profile lan.`

export const USAGE = `Usage:\n${Object.values(COMMAND_USAGE).join('\n')}\n${FOOTER}`

export function usageOf (command: CommandName): string {
  return `Usage:\n${COMMAND_USAGE[command]}${command === 'run' ? `\n${FOOTER}` : ''}`
}

/** The subcommand closest to `typed` (edit distance at most 2), if any. */
export function closestCommand (typed: string): CommandName | undefined {
  let best: CommandName | undefined
  let bestDistance = 3
  for (const command of COMMANDS) {
    const d = editDistance(typed.toLowerCase(), command)
    if (d < bestDistance) { best = command; bestDistance = d }
  }
  return best
}

function editDistance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = row
  }
  return previous[b.length]
}
