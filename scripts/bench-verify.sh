#!/usr/bin/env bash
# Measures, on one loopback topology (BIND primary + NSD + Knot secondaries,
# NOTIFY + IXFR), the time from "record served by every authoritative server"
# to "checker reports visible" for dcvd's verify.Wait and for lego v4's dns01
# precheck at its defaults, plus dcvd's queries per authoritative address per
# poll; then the same latency with DNSSEC checks on in the signed zone
# signed.test (time from "served and signed everywhere" to "reported
# visible", every answer validated). Needs root (servers listen on port 53 of 127.0.0.2-10), named, nsd,
# knotd. Usage: scripts/bench-verify.sh [records per checker, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20}"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
go test -run '^$' -bench 'BenchmarkVisibleLatency' -benchtime "${n}x" -timeout 30m ./internal/legobench/ 2>&1 |
	grep -E '^(Benchmark|ok|FAIL|PASS)|bench_test.go'
go test -run '^$' -bench 'BenchmarkVisibleLatencySigned' -benchtime "${n}x" -timeout 30m ./verify/ 2>&1 |
	grep -E '^(Benchmark|ok|FAIL|PASS)|_test.go'
go test -run '^$' -bench 'BenchmarkWaitAll' -benchtime 1x -timeout 10m ./verify/ 2>&1 |
	grep -E '^(Benchmark|ok|FAIL|PASS)|_test.go'
