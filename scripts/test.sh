#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs the test suite twice over:
#   1. every test, against the normal build (pytest; PostgreSQL tests use the
#      server on 127.0.0.1:5432 when it is there and say so when skipped);
#   2. the engine, chaos and property suites against the ASan+UBSan build,
#      failing on any sanitizer report (python -m fuzz.sanitized_tests).
# Extra arguments go to the first pytest run, e.g. `bash scripts/test.sh -m chaos`.
# Scale for nightly runs: BLAZEFUZZ_PROFILE=nightly BLAZEFUZZ_CHAOS_SCALE=10.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit $?

.venv/bin/python -m pytest "$@"
normal=$?
sanitized=0
if [ $# -eq 0 ]; then
    echo "== the engine, chaos and property suites under ASan+UBSan =="
    .venv/bin/python -m fuzz.sanitized_tests -q -pno:cacheprovider
    sanitized=$?
fi
echo "test.sh: normal build exit $normal, sanitizer build exit $sanitized"
[ $normal -eq 0 ] && [ $sanitized -eq 0 ]
