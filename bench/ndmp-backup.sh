#!/usr/bin/env bash
# NDMP tar backup and restore beside GNU tar, in one run on issue 3's mixed tree
# (1 x 100 MiB, 20 x 5 MiB, 200 x 512 KiB, 2,000 x 50 KiB, 10,000 x 10 KiB, ~500 MB),
# built once: `tar -cf FILE` vs a backup through ferry's agent to a virtual tape with
# file history on, then `tar -xf FILE` vs ferry's restore from that tape. The DMA is a
# small Go driver (2-way: mover and data service joined over LOCAL, 256 KiB records),
# because ndmjob polls once a second and that would dominate. Then 200,000 small files:
# file-history rate and the peak Go heap. N=3 repeats, DIV=10 shrinks the trees.
set -euo pipefail
cd "$(dirname "$0")/.."
export FERRY_BENCH_DIV="${DIV:-1}"
go test -run '^$' -bench '^BenchmarkMixedTree$' -benchtime "${N:-3}x" -timeout 60m -v \
	./internal/ndmp/data/tarengine | grep -E 'Benchmark|tape_test|^ok'
go test -run '^$' -bench '^BenchmarkManySmall$' -benchtime 1x -timeout 60m -v \
	./internal/ndmp/data/tarengine | grep -E 'Benchmark|tape_test|^ok'
