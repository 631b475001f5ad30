#!/usr/bin/env bash
# Runs every fuzz target for a short time (default 10s each), so a
# regression in input handling is caught in CI. Seed corpora live in each
# package's testdata/fuzz and run as plain tests in `go test ./...` too; a
# crasher found here is written there and becomes a regression test.
#
#   scripts/fuzz.sh [DURATION]      e.g. scripts/fuzz.sh 10s
#
# -tags dcvdfuzz leaves out test files that pull in the SQLite driver
# (instrumenting it for coverage takes minutes); the targets do not use it.
# FuzzHookInputs lives in internal/hook, which links the whole binary (every
# backend SDK, SQLite, PostgreSQL): instrumenting that takes many minutes on
# two cores, so CI runs its seed corpus as a plain test (go test ./...) and
# fuzzes it only with FUZZ_ALL=1.
#
# The fuzzing runs on Go 1.27.3 (GOTOOLCHAIN, fetched from the module proxy
# like a module; .ci/run fetches it beforehand), whatever builds the rest:
# Go 1.26's fuzz coordinator can report "context deadline exceeded" as a
# failure when -fuzztime ends while a worker is mid-input
# (go.dev/issue/75804, fixed in 1.27). FUZZ_GOTOOLCHAIN overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=${FUZZ_GOTOOLCHAIN:-go1.27.3}
t=${1:-10s}
targets=(
  "./internal/config FuzzParse"                  # the config loader
  "./providers/digicert FuzzDiscover"            # DigiCert response decoding
  "./verify FuzzClassifyAnswer"                  # verify's reading of DNS answers
  "./dnspublish/embedded FuzzAnswer"             # the embedded server's query handling
)
if [[ ${FUZZ_ALL:-} == 1 ]]; then
  targets+=("./internal/hook FuzzHookInputs")    # what ACME clients hand a hook
fi
for t_ in "${targets[@]}"; do
  read -r pkg fn <<<"$t_"
  echo "fuzz $pkg $fn ($t)"
  go test -tags dcvdfuzz -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" "$pkg"
done
