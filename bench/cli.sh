#!/usr/bin/env bash
# The commands a user types, end to end, beside GNU tar, interleaved, medians of N (3):
#   backup:  `ferry backup DIR` on a fresh state directory
#            vs `tar -cf F DIR && sync F` and plain `tar -cf F DIR` (page cache only)
#   restore: `ferry restore 1 --to OUT` vs `tar -xf F -C OUT`
# on issue 14's 520 MB tree (1 x 100 MiB, 20 x 5 MiB, 200 x 512 KiB, 2,000 x 50 KiB,
# 10,000 x 10 KiB, random bytes, directories of 500), on the disk (under TMPDIR) and,
# when root, on a tmpfs mounted for the run. Ratios are tar's time / ferry's time:
# above 1 ferry is faster.
#
#   bench/cli.sh                 # ~3-4 minutes on a 2-vCPU VM
#   bench/cli.sh --million       # also 1,000,000 files of 0-4 KiB (adds ~10 minutes)
#   N=5 DIV=10 bench/cli.sh      # 5 rounds; a tenth of the tree
#   ONLY=disk|tmpfs bench/cli.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-3}
DIV=${DIV:-1}
MILLION=0
for a in "$@"; do
	case $a in
	--million) MILLION=1 ;;
	*) echo "usage: $0 [--million]" >&2; exit 2 ;;
	esac
done

work=$(mktemp -d)
mnt=
cleanup() {
	if [ -n "$mnt" ]; then umount "$mnt" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

ferry=$work/ferry
build_ferry "$ferry"

# mixed_tree DIR writes the mixed tree of random bytes.
mixed_tree() {
	python3 - "$1" "$DIV" <<-'EOF'
	import os, sys
	root, div = sys.argv[1], int(sys.argv[2])
	for count, size in ((1, 100 << 20), (20, 5 << 20), (200, 512 << 10), (2000, 50 << 10), (10000, 10 << 10)):
	    for i in range(max(1, count // div)):
	        d = os.path.join(root, "s%d" % (size >> 10), "d%03d" % (i // 500))
	        os.makedirs(d, exist_ok=True)
	        with open(os.path.join(d, "f%05d" % i), "wb") as f:
	            f.write(os.urandom(size))
	EOF
}

# million_tree DIR writes 1,000,000 files of 0-4 KiB in directories of 1,000.
million_tree() {
	python3 - "$1" "$DIV" <<-'EOF'
	import os, random, sys
	root, div = sys.argv[1], int(sys.argv[2])
	rnd = random.Random(14)
	pool = os.urandom(1 << 20)
	for i in range(1000000 // div):
	    d = os.path.join(root, "d%04d" % (i // 1000))
	    if i % 1000 == 0:
	        os.makedirs(d, exist_ok=True)
	    n = rnd.randint(0, 4096)
	    o = rnd.randint(0, len(pool) - n)
	    with open(os.path.join(d, "f%07d" % i), "wb") as f:
	        f.write(pool[o:o + n])
	EOF
}

# timed prints the wall seconds CMD... takes.
timed() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>"$work/err" || { echo "failed: $*" >&2; cat "$work/err" >&2; exit 1; }
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc
}

two() { printf '%.2f ' "$@" | sed 's/ $//'; }

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# settle clears what the last step left (untimed) and flushes dirty pages,
# so each timed step starts from the same state.
settle() {
	rm -rf "$@"
	sync
}

# run_set NAME BASE TREE: N interleaved rounds on TREE, scratch under BASE.
run_set() {
	local name=$1 base=$2 tree=$3
	local fb=() tcs=() tc=() fr=() tx=()
	local F=$base/t.tar st=$base/state out=$base/out tout=$base/tout
	local bytes files
	bytes=$(du -sb "$tree" | cut -f1)
	files=$(find "$tree" -type f | wc -l)
	for i in $(seq "$N"); do
		# alternate who goes first, so neither always meets a warmer cache
		if [ $((i % 2)) -eq 1 ]; then order="ferry tar"; else order="tar ferry"; fi
		for who in $order; do
			if [ "$who" = ferry ]; then
				settle "$st" "$out"
				fb+=("$(timed "$ferry" --state "$st" backup "$tree")")
				settle "$out"
				mkdir "$out"
				fr+=("$(timed "$ferry" --state "$st" restore 1 --to "$out")")
			else
				settle "$F" "$tout"
				tcs+=("$(timed sh -c "tar -cf '$F' -C '$(dirname "$tree")' '$(basename "$tree")' && sync '$F'")")
				settle "$F"
				tc+=("$(timed tar -cf "$F" -C "$(dirname "$tree")" "$(basename "$tree")")")
				settle "$tout"
				mkdir "$tout"
				tx+=("$(timed tar -xf "$F" -C "$tout")")
			fi
		done
	done
	# the restored trees hold what was backed up (content and modes)
	if ! diff -r "$tree" "$out/$(basename "$tree")" >/dev/null 2>&1 && ! diff -r "$tree" "$out" >/dev/null 2>&1; then
		echo "$name: ferry's restore differs from the tree" >&2
		exit 1
	fi
	settle "$st" "$out" "$tout" "$F"
	local mfb mtcs mtc mfr mtx
	mfb=$(median "${fb[@]}") mtcs=$(median "${tcs[@]}") mtc=$(median "${tc[@]}")
	mfr=$(median "${fr[@]}") mtx=$(median "${tx[@]}")
	awk -v name="$name" -v files="$files" -v mb="$(echo "$bytes / 1000000" | bc)" -v n="$N" \
		-v fb="$mfb" -v tcs="$mtcs" -v tc="$mtc" -v fr="$mfr" -v tx="$mtx" \
		-v afb="$(two "${fb[@]}")" -v atcs="$(two "${tcs[@]}")" -v atc="$(two "${tc[@]}")" \
		-v afr="$(two "${fr[@]}")" -v atx="$(two "${tx[@]}")" 'BEGIN {
		printf "\n%s: %d files, %d MB, medians of %d (seconds; every run in brackets)\n", name, files, mb, n
		printf "%-44s %8s %8s %7s\n", "step", "ferry", "tar", "ratio"
		printf "%-44s %8.2f %8.2f %7.2f   [ferry %s] [tar %s]\n", "backup vs tar -cf F && sync F", fb, tcs, tcs / fb, afb, atcs
		printf "%-44s %8.2f %8.2f %7.2f   [tar %s]\n", "backup vs tar -cf F (page cache only)", fb, tc, tc / fb, atc
		printf "%-44s %8.2f %8.2f %7.2f   [ferry %s] [tar %s]\n", "restore 1 --to OUT vs tar -xf F -C OUT", fr, tx, tx / fr, afr, atx
	}'
}

# run_on NAME BASE: build the trees under BASE and measure.
run_on() {
	local name=$1 base=$2
	echo "building the trees under $base ..." >&2
	mkdir -p "$base/mixed"
	mixed_tree "$base/mixed/tree"
	run_set "$name, mixed tree" "$base/mixed" "$base/mixed/tree"
	rm -rf "$base/mixed"
	if [ "$MILLION" = 1 ]; then
		mkdir -p "$base/million"
		million_tree "$base/million/tree"
		run_set "$name, 1,000,000 small files" "$base/million" "$base/million/tree"
		rm -rf "$base/million"
	fi
}

echo "ferry $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) CPUs, $(uname -r)"
if [ "${ONLY:-}" != tmpfs ]; then
	run_on "disk ($(df -T "$work" | awk 'NR == 2 { print $2 }'))" "$work/disk"
fi
if [ "${ONLY:-}" != disk ]; then
	if [ "$(id -u)" = 0 ]; then
		mnt=$work/tmpfs
		mkdir "$mnt"
		mount -t tmpfs -o size=$((MILLION ? 8 : 3))G ferry-bench "$mnt"
		run_on tmpfs "$mnt"
	else
		echo "tmpfs: skipped (mounting one needs root)"
	fi
fi
