#!/usr/bin/env bash
# Virtual cartridge write speed, 256 KiB records, beside a plain os.File.Write
# of the same bytes in the same run. The ratio is file time / tape time.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench '^BenchmarkWriteRecord$' -count "${COUNT:-3}" ./internal/tape
