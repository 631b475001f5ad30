#!/bin/sh
# Pipeline benchmark: 1,000 and 10,000 challenges across 100 zones on a local
# BIND 9 (named must be installed: apt-get install bind9), through RFC 2136,
# verification at the authoritative server, a CA that looks the records up,
# and the SQLite store. Target: 10,000 challenges in <= 60 s on 2 cores with
# peak RSS <= 200 MB. Results go to scheduler/BENCHMARKS.md.
#
#   scripts/bench-pipeline.sh            # one run of each size
#   COUNT=3 scripts/bench-pipeline.sh    # three runs of each size
set -eu
cd "$(dirname "$0")/.."
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "go: $(go version)"
exec go test ./scheduler -run '^$' -bench '^BenchmarkPipeline$' -benchtime 1x -count "${COUNT:-1}" -timeout 30m "$@"
