#!/bin/sh
# CA rate-limit benchmark (issue 7): one `dcvd run` on 200 pending DigiCert
# orders over 20 zones on a local BIND 9 (named must be installed), against
# the DigiCert simulator enforcing DigiCert's documented limits (100 requests
# per 5 s and 1000 per 3 min per key), the account on its default limits.
# Target: <= 40 s wall, 0 x 429, <= 3.2 CA calls per validated order.
# Reports wall time, CA calls, 429s, calls/order and the floor the documented
# windows allow for that many calls. Results go to BENCHMARKS.md.
#
#   scripts/bench-ca-limits.sh            # one run
#   COUNT=3 scripts/bench-ca-limits.sh    # three runs
set -eu
cd "$(dirname "$0")/.."
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "go: $(go version)"
exec go test ./cmd/dcvd -run '^$' -bench '^BenchmarkCALimits$' -benchtime 1x -count "${COUNT:-1}" -timeout 30m -v "$@"
