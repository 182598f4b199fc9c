#!/usr/bin/env bash
# Installs everything BlazeFuzz needs on a fresh Debian 12 machine (run as root)
# and builds the C core. Idempotent: a second run only rebuilds what changed.
#   - Debian packages: clang-19, its compiler runtime (libFuzzer, sanitizers), llvm-19
#     (llvm-symbolizer), Python's venv and headers
#   - .venv/ in the repository root with the project installed editable (normal build)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(clang-19 libclang-rt-19-dev llvm-19 python3-venv python3-dev gcc make git)
PYTHON=${PYTHON:-python3}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: need root to install Debian packages (${missing[*]})" >&2
        exit 2
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
# Reinstall only when the project's declared dependencies changed.
stamp=.venv/.blazefuzz-installed
want=$(sha1sum pyproject.toml setup.py | sha1sum | cut -c1-40)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing Python packages into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    echo "$want" > "$stamp"
fi
# Always rebuild the C core in place (setuptools does not track headers: --force).
echo "setup: building the C core (normal build)"
.venv/bin/python setup.py -q build_ext --inplace --force >/dev/null
echo "setup: ready (.venv/bin/python, .venv/bin/blazefuzz)"
