"""Builds BlazeDB's C core: the normal build (system compiler, optimized, no sanitizers).

The instrumented builds for fuzzing are made by `python -m fuzz.build` from the
same sources into their own directories; see fuzz/build.py.
"""
from pathlib import Path

from setuptools import Extension, setup

CSRC = Path("engine/csrc")
COMMON_FLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-fvisibility=hidden"]


def sources(part: str) -> list[str]:
    return sorted(str(p) for p in (CSRC / part).glob("*.c"))


EXTENSIONS = [
    Extension("engine._store", sources("store"), include_dirs=[str(CSRC / "store")],
              extra_compile_args=COMMON_FLAGS),
    Extension("engine._codec", sources("codec"), include_dirs=[str(CSRC / "codec")],
              extra_compile_args=COMMON_FLAGS),
]

# An extension without sources (a partial checkout) is skipped rather than failing the install.
setup(ext_modules=[ext for ext in EXTENSIONS if ext.sources])
