#!/usr/bin/env bash
# OSS-Fuzz style build step: the instrumented engine and one executable harness
# per target, with seed corpora zipped as <target>_seed_corpus.zip into $OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-build/oss-fuzz-out}
mkdir -p "$OUT"
bash scripts/setup.sh
.venv/bin/python -m fuzz.build --flavor asan
for target in $(.venv/bin/python -c "from fuzz import targets; print(*targets.names())"); do
    if [ -d "corpus/$target" ]; then
        mapfile -t seeds < <(find "corpus/$target" -maxdepth 1 -type f ! -name '.*')
        [ ${#seeds[@]} -gt 0 ] && .venv/bin/python -m zipfile -c "$OUT/${target}_seed_corpus.zip" "${seeds[@]}"
    fi
    [ -f "corpus/$target.dict" ] && cp "corpus/$target.dict" "$OUT/$target.dict"
    printf '#!/usr/bin/env bash\nexec %q -m fuzz.run --target %q -- "$@"\n' "$PWD/.venv/bin/python" "$target" > "$OUT/$target"
    chmod +x "$OUT/$target"
done
echo "oss-fuzz build: $(ls "$OUT")"
