#!/usr/bin/env bash
# Installs everything BlazeFuzz needs on a fresh Debian 12 machine (run as root)
# and builds the C core. Idempotent: a second run only rebuilds what changed.
#   - Debian packages: clang-19, its compiler runtime (libFuzzer, sanitizers), llvm-19
#     (llvm-symbolizer), Python's venv and headers, valgrind (`blazefuzz bench cost`)
#   - .venv/ in the repository root with the project installed editable (normal build),
#     made with Debian's python3 (PYTHON=/path/to/python3.11 to choose another)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(clang-19 libclang-rt-19-dev llvm-19 python3-venv python3-dev gcc make git valgrind)
# Debian's own interpreter: the one python3-venv and python3-dev belong to, and
# the one the Docker image runs. A python3 found first on PATH (pyenv, conda)
# would have CI and the image run different interpreters (on the development
# machine, pyenv's 3.11.7, built without PGO/LTO, ran the ops target under ASan
# 4-8% slower than Debian's 3.11.2 in paired runs, with 7.5% more instructions).
PYTHON=${PYTHON:-/usr/bin/python3}

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

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    echo "setup: $PYTHON is not Python 3.11 (BlazeFuzz needs 3.11; set PYTHON=/path/to/python3.11)" >&2
    exit 2
fi
want_python=$("$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.executable))')
if [ -x .venv/bin/python ]; then
    venv_python=$(.venv/bin/python -c 'import os, sys; print(os.path.realpath(sys._base_executable))' \
                  2>/dev/null || echo "a broken interpreter")
    if [ "$venv_python" != "$want_python" ]; then
        echo "setup: .venv was made with $venv_python, not $want_python: making it again" \
             "(PYTHON=$venv_python keeps that one)"
        rm -rf .venv
    fi
fi
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $want_python ($("$PYTHON" --version))"
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
# Rebuild the C core when its sources changed (setuptools does not track
# headers, hence our own stamp and --force). The old modules are unlinked first:
# a process that has them loaded keeps its mapping instead of seeing the file
# rewritten under it.
core_stamp=engine/.core-built
core_want=$( (find engine/csrc/store engine/csrc/codec setup.py -type f -print0 | sort -z | xargs -0 sha1sum;
              echo "$want_python") | sha1sum | cut -c1-40)
if [ ! -f "$core_stamp" ] || [ "$(cat "$core_stamp")" != "$core_want" ] \
   || ! ls engine/_store.*.so engine/_codec.*.so >/dev/null 2>&1; then
    echo "setup: building the C core (normal build)"
    rm -f engine/_store.*.so engine/_codec.*.so
    .venv/bin/python setup.py -q build_ext --inplace --force >/dev/null
    echo "$core_want" > "$core_stamp"
fi
echo "setup: ready (.venv/bin/python, .venv/bin/blazefuzz)"
