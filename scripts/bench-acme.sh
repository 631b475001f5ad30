#!/usr/bin/env bash
# Wall time per certificate through dcvd's ACME account against Pebble and
# BIND 9 on loopback: 1 name, apex + wildcard, 10 names (BENCHMARKS.md).
# Needs the Debian packages bind9 and pebble. Usage: scripts/bench-acme.sh [iterations]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
go test -run '^$' -bench 'BenchmarkIssue' -benchtime "${n}x" ./providers/acme/ | grep -E '^(Benchmark|ok|goos|cpu)'
