#!/usr/bin/env bash
# The main job: set everything up, then fuzz the `ops` target for a bounded time
# against the ASan+UBSan instrumented engine while the triage daemon ingests,
# deduplicates and minimizes whatever it finds. Ends with the triage summary.
#   FUZZ_SECONDS (default 300)  how long to fuzz
#   FUZZ_JOBS    (default 1)    libFuzzer workers
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
seconds=${FUZZ_SECONDS:-300}
jobs=${FUZZ_JOBS:-1}
py=.venv/bin/python

$py -m fuzz.build --flavor asan

# The daemon watches crashes/ while the fuzzer runs; it is stopped (SIGINT, so it
# finishes the artifact in hand) when fuzzing ends, then one final pass runs.
.venv/bin/blazefuzz triage daemon --crashes crashes &
daemon=$!
trap 'kill -INT $daemon 2>/dev/null || true' EXIT

status=0
$py -m fuzz.run --target ops --max-time "$seconds" --jobs "$jobs" || status=$?

kill -INT $daemon 2>/dev/null || true
wait $daemon 2>/dev/null || true
trap - EXIT
.venv/bin/blazefuzz triage daemon --crashes crashes --once
.venv/bin/blazefuzz triage list
# 0: nothing found; 1: findings (listed above); anything else: the job failed.
exit $status
