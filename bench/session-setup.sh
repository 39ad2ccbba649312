#!/usr/bin/env bash
# NDMP session set-up latency, ferry beside Amanda's ndmjob daemon, in one run:
# dial -> NOTIFY_CONNECTION_STATUS -> CONNECT_OPEN -> reply, N times each.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
n=${N:-500}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

build_ferry "$tmp/ferry"
fport=$(free_port)
"$tmp/ferry" serve --state "$tmp/state" --ndmp "127.0.0.1:$fport" --log-level error 2>"$tmp/ferry.log" &
pids+=($!)
nport=$(free_port)
touch "$tmp/ndmjob.conf"
/usr/lib/amanda/ndmjob -o config-file="$tmp/ndmjob.conf" -o daemon -p "$nport" >"$tmp/ndmjob.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1 "$fport"
wait_port 127.0.0.1 "$nport"
go run ./bench/ndmpsetup -n "$n" ferry="127.0.0.1:$fport" ndmjob="127.0.0.1:$nport"
