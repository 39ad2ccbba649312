#!/usr/bin/env bash
# Installs what ferry's tests need (Debian packages, only when missing) and
# runs every test. CI runs exactly this (.ci/run).
#
#   FUZZTIME=20s   how long each rotated fuzz target runs (0 skips fuzzing;
#                  default 20s in CI, 0 elsewhere)
#   FUZZCOUNT=3    how many fuzz targets to run this time
#   RACE=0         skips the race-detector pass
set -euo pipefail
cd "$(dirname "$0")/.."

# Peers the tests run against, by Debian package name.
packages=(amanda-common libiscsi-bin tgt tshark postgresql acl attr libarchive-tools btrfs-progs e2fsprogs gcc linux-libc-dev tar iproute2 util-linux chromium nodejs)
missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm comes with some nodejs builds and is its own Debian package with others.
if ! command -v npm >/dev/null; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends npm
fi
# The console's browser test drives Chromium with playwright-core, at the
# version package-lock.json locks (never a browser download of its own).
if [ ! -d tools/console-test/node_modules ]; then
	(cd tools/console-test && npm ci --no-audit --no-fund)
fi

# Peers built from Go source (tools/go.mod pins them): versitygw, the S3
# server the S3 cartridge store's tests start. `go install` puts it in
# GOBIN or GOPATH/bin, where the tests look; a cached build takes seconds.
echo "== tools"
(cd tools && go install github.com/versity/versitygw/cmd/versitygw)

echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "== go test"
go test -count=1 -timeout 25m ./...

# The race detector over the packages where goroutines share state: the
# jobs, the catalog's ingesters, the NDMP services, restore's workers, the
# iSCSI target. RACE=0 skips it.
if [ "${RACE:-1}" != 0 ]; then
	echo "== go test -race"
	go test -race -count=1 -timeout 25m ./internal/dma/ ./internal/catalog/... ./internal/ndmp/... \
		./internal/restore/ ./internal/iscsi/... ./internal/tape/ ./internal/library/
fi

# Fuzzing: a different few targets each run (rotated by the commit), each for
# a bounded time. The checked-in corpora already ran above as plain tests.
fuzztime=${FUZZTIME:-$([ "${CI:-}" = true ] && echo 20s || echo 0)}
if [ "$fuzztime" != 0 ]; then
	mapfile -t targets < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . |
		while read -r f; do
			for fn in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$f" | cut -d' ' -f2); do
				echo "$(dirname "$f") $fn"
			done
		done | sort)
	n=${#targets[@]}
	count=${FUZZCOUNT:-3}
	if [ "$n" -gt 0 ]; then
		seed=$(( 0x$(git rev-parse --short=8 HEAD 2>/dev/null || echo 0) ))
		[ "$count" -gt "$n" ] && count=$n
		for i in $(seq 0 $((count - 1))); do
			read -r dir fn <<<"${targets[$(( (seed + i) % n ))]}"
			echo "== fuzz $dir $fn for $fuzztime"
			go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" "$dir"
		done
	fi
fi
echo "all tests passed"
