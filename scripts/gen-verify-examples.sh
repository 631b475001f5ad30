#!/usr/bin/env bash
# Regenerates the `dcvd check` examples per failure class in README.md and
# verify/README.md from the topology tests (needs root: servers on port 53 of
# 127.0.0.x and ::1). The tables replace the text between the markers
# "<!-- BEGIN verify examples -->" and "<!-- END verify examples -->".
# Usage: scripts/gen-verify-examples.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
DCVD_VERIFY_EXAMPLES="$out" go test -count=1 -run '^TestTopology$' ./verify/ >/dev/null
splice() { # file heading-prefix
	python3 - "$1" "$2" "$out" <<'PY'
import re, sys
path, prefix, gen = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
gen = re.sub(r'^### ', prefix + ' ', gen, flags=re.M)
text = open(path).read()
begin, end = '<!-- BEGIN verify examples -->\n', '<!-- END verify examples -->'
i, j = text.index(begin) + len(begin), text.index(end)
open(path, 'w').write(text[:i] + '\n' + gen.rstrip('\n') + '\n\n' + text[j:])
PY
}
splice README.md '####'
splice verify/README.md '###'
echo "examples updated in README.md and verify/README.md"
