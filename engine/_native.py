"""Loads BlazeDB's two C extension modules, `_store` and `_codec`.

Normally they come from the package itself (the build `pip install .` made).
The fuzz runner sets BLAZEDB_NATIVE_DIR to a directory holding an instrumented
build (see fuzz/build.py); then both modules are loaded from there and nowhere
else, so a run never mixes the normal and the instrumented build. `BUILD`
says which one this process uses.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

NATIVE_DIR_ENV = "BLAZEDB_NATIVE_DIR"


def _load_from(directory: Path, name: str):
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = directory / f"{name}{suffix}"
        if candidate.exists():
            full = f"engine.{name}"
            spec = importlib.util.spec_from_file_location(full, candidate)
            module = importlib.util.module_from_spec(spec)
            sys.modules[full] = module
            spec.loader.exec_module(module)
            return module, str(candidate)
    raise ImportError(
        f"{NATIVE_DIR_ENV}={directory} has no {name} extension; "
        f"build it with `python -m fuzz.build` or unset {NATIVE_DIR_ENV}")


def _load():
    override = os.environ.get(NATIVE_DIR_ENV)
    if override:
        directory = Path(override)
        store, store_path = _load_from(directory, "_store")
        codec, codec_path = _load_from(directory, "_codec")
        return store, codec, {"flavor": "external", "dir": str(directory),
                              "store": store_path, "codec": codec_path}
    try:
        store = importlib.import_module("engine._store")
        codec = importlib.import_module("engine._codec")
    except ImportError as exc:
        raise ImportError(
            f"BlazeDB's C core is not built ({exc}). Run `bash scripts/setup.sh` "
            "or `pip install -e .` in the repository root.") from exc
    return store, codec, {"flavor": "normal", "store": store.__file__, "codec": codec.__file__}


store, codec, BUILD = _load()
