#!/usr/bin/env bash
# Roles of the service container (shared state lives under /data):
#   worker   fuzz one target forever (TARGET, default ops), corpus and crashes on /data
#   triage   the triage daemon on /data/crashes with the store TRIAGE_STORE
#            (default: SQLite under $BLAZEFUZZ_HOME; a postgresql:// URL for many machines);
#            further arguments go to the daemon (e.g. --once)
#   nightly  one OSS-Fuzz style run (BUDGET seconds, default 3600)
#   *        any other command is run as given
set -euo pipefail
cd "$(dirname "$0")/.."        # the repository (/opt/blazefuzz in the image)
data=${DATA_DIR:-/data}
mkdir -p "$data/corpus" "$data/crashes" "${BLAZEFUZZ_HOME:-$data/blazefuzz}"
store_args=()
[ -n "${TRIAGE_STORE:-}" ] && store_args=(--store "$TRIAGE_STORE")

case "${1:-worker}" in
  worker)
    target=${TARGET:-ops}
    exec .venv/bin/python -m fuzz.run --target "$target" \
        --corpus "$data/corpus/$target" --crashes "$data/crashes/$target" \
        --jobs "${FUZZ_JOBS:-1}" ${MAX_TIME:+--max-time "$MAX_TIME"} ;;
  triage)
    exec .venv/bin/blazefuzz triage daemon --crashes "$data/crashes" "${store_args[@]}" "${@:2}" ;;
  nightly)
    exec .venv/bin/blazefuzz nightly --budget "${BUDGET:-3600}" ;;
  *)
    exec "$@" ;;
esac
