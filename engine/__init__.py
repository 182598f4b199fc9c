"""BlazeDB: an embedded document database with a C storage core.

    from engine import BlazeDB, F, count, sum_
    with BlazeDB("app.blazedb") as db:
        db.create_index("city")
        rid = db.insert({"name": "Ada", "city": "Oslo", "age": 36})
        db.query().where(F("city") == "Oslo", F("age") > 30).order_by("age").all()

The API reference is engine/API.md; value semantics are engine/doc/semantics.md.
Names below load lazily (PEP 562), so `import engine.errors` or `engine.types`
works even where the C core is not built yet.
"""
from engine.errors import *
from engine.errors import __all__ as _error_names

_LAZY = {
    "BlazeDB": "engine.db",
    "Query": "engine.query", "F": "engine.query", "Pred": "engine.query",
    "Agg": "engine.query", "and_": "engine.query", "or_": "engine.query",
    "not_": "engine.query", "count": "engine.query", "sum_": "engine.query",
    "avg": "engine.query", "min_": "engine.query", "max_": "engine.query",
    "Vector": "engine.types", "MISSING": "engine.types",
    "sort_key": "engine.semantics",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = list(_error_names) + list(_LAZY)
