#!/usr/bin/env bash
# iSCSI read throughput: libiscsi's iscsi-perf against a ferry disk LUN and a
# tgtd disk LUN on the same backing file, in one run. 128 KiB sequential
# reads and 4 KiB random reads, queue depth 32. Prints MiB/s, IOPS and the
# ferry/tgt ratios.
#
# Environment: SIZE (image size, default 1G), SECS (seconds per run,
# default 10), QD (default 32). Needs iscsi-perf (libiscsi-bin) and tgtd
# (tgt); tgtd needs root. A tgtd already on 3260 is left alone: this one
# gets its own portal and control port.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

SIZE=${SIZE:-1G}
SECS=${SECS:-10}
QD=${QD:-32}
work=$(mktemp -d)
ferry_pid= tgt_pid= tgt_ctl=$((20000 + RANDOM % 10000))
ferry_iqn=iqn.2026-01.dev.ferry:bench
tgt_iqn=iqn.2026-01.dev.ferry:tgtbench

cleanup() {
	if [ -n "$tgt_pid" ]; then
		tgtadm -C "$tgt_ctl" --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1 || true
		tgtadm -C "$tgt_ctl" --op delete --mode system >/dev/null 2>&1 || true
		for _ in $(seq 50); do kill -0 "$tgt_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$tgt_pid" 2>/dev/null || true # tgtd ignores SIGTERM
		wait "$tgt_pid" 2>/dev/null || true
	fi
	if [ -n "$ferry_pid" ]; then
		kill "$ferry_pid" 2>/dev/null || true
		wait "$ferry_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "backing file: $SIZE of random data" >&2
img=$work/disk.img
truncate -s "$SIZE" "$img"
dd if=/dev/urandom of="$img" bs=1M count=$(( $(stat -c %s "$img") >> 20 )) conv=notrunc status=none

# ferry: `ferry serve --iscsi` with the image attached as a disk.
ferry_port=$(free_port)
build_ferry "$work/ferry"
state=$work/state
"$work/ferry" --state "$state" disk create bench --from "$img" >/dev/null
ferry_iqn=$("$work/ferry" --state "$state" target ls | head -1)
"$work/ferry" --state "$state" serve --ndmp '' --iscsi "127.0.0.1:$ferry_port" >"$work/ferry.log" 2>&1 &
ferry_pid=$!
# Disks are on LUN 5 + their index (docs/iscsi-target.md).
ferry_lun=$("$work/ferry" --state "$state" disk ls | awk '$1 == "bench" { print 5 + $2 }')
wait_port 127.0.0.1 "$ferry_port"

tgt_port=$(free_port)
tgtd -f -C "$tgt_ctl" --iscsi portal=127.0.0.1:$tgt_port >"$work/tgtd.log" 2>&1 &
tgt_pid=$!
wait_port 127.0.0.1 "$tgt_port"
tgtadm -C "$tgt_ctl" --lld iscsi --op new --mode target --tid 1 -T "$tgt_iqn"
tgtadm -C "$tgt_ctl" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$img"
tgtadm -C "$tgt_ctl" --lld iscsi --op bind --mode target --tid 1 -I ALL

# perf URL BLOCKS [-r] prints the average IOPS iscsi-perf reports.
perf() {
	local url=$1 blocks=$2
	shift 2
	timeout $((SECS + 30)) iscsi-perf -m "$QD" -b "$blocks" -t "$SECS" "$@" "$url" 2>&1 |
		tr '\r' '\n' | sed -n 's/^ *iops average \([0-9]*\) .*/\1/p' | tail -1
}

ferry_url=iscsi://127.0.0.1:$ferry_port/$ferry_iqn/$ferry_lun
tgt_url=iscsi://127.0.0.1:$tgt_port/$tgt_iqn/1
# Warm the page cache so both read the same cached file.
cat "$img" >/dev/null

f_seq=$(perf "$ferry_url" 256)
t_seq=$(perf "$tgt_url" 256)
f_rnd=$(perf "$ferry_url" 8 -r)
t_rnd=$(perf "$tgt_url" 8 -r)
if [ -z "$f_seq" ] || [ -z "$t_seq" ] || [ -z "$f_rnd" ] || [ -z "$t_rnd" ]; then
	echo "iscsi-perf gave no figure (ferry $ferry_url, tgt $tgt_url)" >&2
	cat "$work/ferry.log" "$work/tgtd.log" >&2
	exit 1
fi

awk -v fs="$f_seq" -v ts="$t_seq" -v fr="$f_rnd" -v tr="$t_rnd" -v qd="$QD" -v secs="$SECS" 'BEGIN {
	printf "iscsi-perf, queue depth %d, %d s per run, same backing file\n", qd, secs
	printf "%-28s %12s %12s %8s\n", "", "ferry", "tgt", "ratio"
	printf "%-28s %12.1f %12.1f %8.2f\n", "128 KiB seq read MiB/s", fs / 8, ts / 8, (ts ? fs / ts : 0)
	printf "%-28s %12d %12d %8.2f\n", "128 KiB seq read IOPS", fs, ts, (ts ? fs / ts : 0)
	printf "%-28s %12.1f %12.1f %8.2f\n", "4 KiB random read MiB/s", fr / 256, tr / 256, (tr ? fr / tr : 0)
	printf "%-28s %12d %12d %8.2f\n", "4 KiB random read IOPS", fr, tr, (tr ? fr / tr : 0)
}'
