#!/bin/sh
# Store benchmark (issue 15): N challenges over Z zones on a local BIND 9,
# as DigiCert simulator orders of ten names, validated by real `dcvd run`
# processes: one on SQLite, one on PostgreSQL, and two at once sharing one
# PostgreSQL database. Reports wall time, CPU and peak RSS (its own VmHWM)
# per process; every order must be issued and no record left.
# Targets (2 cores): 100,000 challenges <= 120 s on SQLite and <= 180 s on
# PostgreSQL, peak RSS <= 300 MB per instance, two instances together no
# slower than one. Results go to BENCHMARKS.md.
#
#   scripts/bench-stores.sh                        # 10,000 challenges, 1,000 zones, all modes
#   N=100000 scripts/bench-stores.sh               # 100,000
#   MODES=postgres,postgres-x2 scripts/bench-stores.sh
#   PIPELINE=1 scripts/bench-stores.sh             # also the in-process engine benchmark
set -eu
cd "$(dirname "$0")/.."
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "go: $(go version)"
export DCVD_BENCH_N="${N:-10000}" DCVD_BENCH_ZONES="${ZONES:-1000}"
export DCVD_BENCH_MODES="${MODES:-sqlite,postgres,postgres-x2}"
go test ./cmd/dcvd -run '^$' -bench '^BenchmarkStoresProcesses$' -benchtime 1x -timeout 120m -v "$@"
if [ -n "${PIPELINE:-}" ]; then
	go test ./scheduler -run '^$' -bench '^BenchmarkPipelineStores$' -benchtime 1x -timeout 120m -v "$@"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
