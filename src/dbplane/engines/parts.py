"""The optional parts of an engine, found through its class (``Engine.parts``).

A part is a module or a class of the type's own package (or of the shared ``sql``
package), imported the first time it is asked for:

==========  =====================================================================
tables      the Tables API's reads and writes (``dbplane.engines.sql.tables``)
schema      schema as code: snapshot, apply, dry run (``dbplane.engines.sql.schema``)
routines    migrations, factories and seeders (``dbplane.engines.sql.routines``)
backups     a ``BackupAdapter`` class (``dbplane.engines.backups``)
actions     an ``ActionsAdapter`` class (``dbplane.engines.actions``)
lock        the database-level lock (``dbplane.engines.sql.lock.DatabaseLock``)
managed     a ``ManagedServer`` class: a server dbplane runs (``engines/managed.py``)
fingerprint what the database holds, for restore drills (``engines/fingerprint.py``)
pitr        point-in-time restore of a managed server (PostgreSQL's ``pitr``)
upgrade     the move of a managed server to a newer build (PostgreSQL's ``upgrade``)
==========  =====================================================================

Services ask ``has_part`` and ``part``; a type without the part is told by the caller,
which words the 4xx for its own routes and lists ``registry.types_with(name)``.
"""

from __future__ import annotations

import importlib
from typing import Any

from dbplane.engines.base import Engine

__all__ = ["has_part", "part"]

_cache: dict[str, Any] = {}


def has_part(engine: Engine | type[Engine], name: str) -> bool:
    return name in engine.parts


def part(engine: Engine | type[Engine], name: str) -> Any:
    """The object implementing ``engine``'s part ``name`` (a module or a class); KeyError
    when the type has none (ask ``has_part`` first)."""
    target = engine.parts[name]
    found = _cache.get(target)
    if found is None:
        module, _, attribute = target.partition(":")
        found = importlib.import_module(module)
        if attribute:
            found = getattr(found, attribute)
        _cache[target] = found
    return found
