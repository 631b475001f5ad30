#!/bin/sh
# bench-hooks.sh — wall time per certificate from Pebble, all DNS writes to
# one BIND 9, for 1 name, apex + wildcard and 10 names:
#
#   certbot-dcvd     certbot --manual + `dcvd hook certbot-auth/cleanup`
#   certbot-bare     certbot --manual + a bare nsupdate hook that never waits
#                    (certbot's own overhead: the lower bound)
#   certbot-rfc2136  certbot + certbot-dns-rfc2136 at its defaults (~3 min)
#   lego-rfc2136     lego CLI + its rfc2136 provider at its defaults (~11 min)
#
# then BenchmarkHookCalls: only the hook processes certbot runs for one
# certificate (n auth calls + n cleanup calls), dcvd vs the bare hook.
#
# Needs: go, named (bind9), nsupdate (bind9-dnsutils), pebble, certbot,
# python3-certbot-dns-rfc2136, lego. Everything listens on 127.0.0.1 high
# ports.
#
# Usage: scripts/bench-hooks.sh [--skip-lego] [--skip-slow] [--count N]
#   --skip-lego  leave out lego-rfc2136
#   --skip-slow  leave out lego-rfc2136 and certbot-rfc2136 (~30 s in total)
#   --count N    repeat every measurement N times (default 1)
set -eu
cd "$(dirname "$0")/.."

skip=""
count=1
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-lego) skip="lego-rfc2136" ;;
    --skip-slow) skip="lego-rfc2136,certbot-rfc2136" ;;
    --count) shift; count="$1" ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "bench-hooks.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
echo "# certbot $(certbot --version 2>&1 | awk '{print $2}'), pebble $(dpkg-query -W -f '${Version}' pebble 2>/dev/null || echo '?'), lego $(dpkg-query -W -f '${Version}' lego 2>/dev/null || echo '?'), $(named -v)"
DCVD_BENCH_SKIP="$skip" go test ./internal/hook/ -run '^$' -bench '^BenchmarkHooks$' \
  -benchtime 1x -count "$count" -timeout 90m
# The hook calls alone (no certbot): dcvd vs the bare nsupdate hook.
go test ./internal/hook/ -run '^$' -bench '^BenchmarkHookCalls$' -benchtime 10x -count "$count" -timeout 30m
