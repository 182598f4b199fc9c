"""BlazeDB: an embedded document database with a C storage core.

The public API is re-exported here once the modules land (see engine/API.md).
"""
from engine.errors import *  # noqa: F401,F403
