#!/usr/bin/env bash
# Mover throughput, TCP socket -> mover -> virtual tape with 256 KiB records,
# beside a plain socket -> file copy of the same bytes (io.CopyBuffer, same
# buffer size) in the same run. The ratio is copy time / mover time (>= 0.8 is the goal).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench '^BenchmarkMoverThroughput$' -benchtime "${BENCHTIME:-20x}" -count "${COUNT:-3}" ./internal/ndmp/mover
