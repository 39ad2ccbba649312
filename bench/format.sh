#!/usr/bin/env bash
# ferry's pax stream beside GNU tar on issue 3's mixed tree (1 x 100 MiB, 20 x 5 MiB,
# 200 x 512 KiB, 2,000 x 50 KiB, 10,000 x 10 KiB) in one run: create (tree -> FILE,
# ferry's Writer with fsmeta vs tar -cf FILE) and extract (FILE -> empty directory,
# ferry's Reader with fsmeta vs tar -xf FILE), plus the format alone from memory.
# BenchmarkManySmall does the same on SMALL (default 20,000) files of 4 KiB.
# The log lines give the ratios (ferry speed / tar speed). DIV=10 shrinks the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY_BENCH_DIV="${DIV:-1}" FERRY_BENCH_SMALL="${SMALL:-20000}" go test -run '^$' -bench '^(BenchmarkMixedTree|BenchmarkManySmall|BenchmarkWriter|BenchmarkReader)$' \
	-benchtime "${N:-3}x" -v ./internal/format | grep -E 'Benchmark|bench_test|^ok'
