#!/usr/bin/env bash
# The README's 3-node cluster on one machine, as a script: three agents on
# 127.0.0.1, `agent members`, a job, a graceful leave. Run from a checkout
# after `npm ci`; it needs ports 7946-7947, 8946-8947, 9946, 7373, 8373 and
# 9373 free (npm test runs it in a network namespace of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
# On exit, stop the agents: each background job is npx, whose agent is a
# grandchild that killing npx alone leaves running; take each tree, leaves first.
kill_tree () { local child; for child in $(pgrep -P "$1"); do kill_tree "$child"; done; kill "$1" 2>/dev/null || true; }
trap 'for job in $(jobs -p); do kill_tree "$job"; done; wait 2>/dev/null || true; rm -rf "$logs"' EXIT

npx agent --name n1 --listen /ip4/127.0.0.1/tcp/7946 --listen /ip4/127.0.0.1/tcp/7947/ws >"$logs/n1" 2>&1 &
npx agent --name n2 --listen /ip4/127.0.0.1/tcp/8946 --listen /ip4/127.0.0.1/tcp/8947/ws --rpc 127.0.0.1:8373 --join /ip4/127.0.0.1/tcp/7946 >"$logs/n2" 2>&1 &
npx agent --name n3 --listen /ip4/127.0.0.1/tcp/9946 --rpc 127.0.0.1:9373 --join /ip4/127.0.0.1/tcp/7947/ws >"$logs/n3" 2>&1 &

# Wait (at most a minute) until n1 lists all three alive.
for _ in $(seq 120); do
  alive=$(npx agent members --json 2>/dev/null | grep -c '"status": "alive"' || true)
  [ "$alive" = 3 ] && break
  sleep 0.5
done
npx agent members
npx agent submit primes --input '{"from":0,"to":2000000,"chunks":20}'
npx agent members --rpc 127.0.0.1:8373 --json >/dev/null
npx agent leave --rpc 127.0.0.1:9373
