"""The database types dbplane serves: each type's name mapped to its engine class.

Adding a type is one package under ``dbplane/engines/`` and one line in ``ENGINES``. The
classes are imported the first time the registry is asked about URLs or types; their
modules import no driver at load time (a dbplane that serves only SQLite never loads the
PostgreSQL, MySQL or Redis drivers: about 60 MB of resident memory), and a type's parts
(tables, backups, …) are imported when first used (``dbplane.engines.parts``).

``register`` adds a type at run time (an engine defined outside this package, as tests
do); ``unregister`` removes it again.
"""

from __future__ import annotations

import importlib

from dbplane.engines.base import Engine

__all__ = [
    "ENGINES",
    "embedded_class",
    "engine_class",
    "engine_classes",
    "register",
    "resolve_type",
    "type_for_scheme",
    "type_names",
    "types_with",
    "unregister",
]

ENGINES: dict[str, str] = {
    "sqlite": "dbplane.engines.sqlite.engine:SqliteEngine",
    "postgresql": "dbplane.engines.postgresql.engine:PostgresqlEngine",
    "mysql": "dbplane.engines.mysql.engine:MysqlEngine",
    "redis": "dbplane.engines.redis.engine:RedisEngine",
    "influxdb": "dbplane.engines.influxdb.engine:InfluxdbEngine",
}
"""Type name → ``"module:Class"`` of its engine."""

_loaded: dict[str, type[Engine]] = {}
_extra: dict[str, type[Engine]] = {}


def _load(type_name: str) -> type[Engine]:
    cls = _loaded.get(type_name)
    if cls is None:
        module, _, name = ENGINES[type_name].partition(":")
        cls = getattr(importlib.import_module(module), name)
        assert isinstance(cls, type) and issubclass(cls, Engine)
        _loaded[type_name] = cls
    return cls


def type_names() -> list[str]:
    """Every type served, in registry order (registered ones last)."""
    return [*ENGINES, *(name for name in _extra if name not in ENGINES)]


def engine_class(type_name: str) -> type[Engine]:
    """The engine class of a type; KeyError for a type dbplane does not serve."""
    extra = _extra.get(type_name)
    if extra is not None:
        return extra
    if type_name not in ENGINES:
        raise KeyError(type_name)
    return _load(type_name)


def engine_classes() -> list[type[Engine]]:
    return [engine_class(name) for name in type_names()]


def resolve_type(name: str) -> str | None:
    """The type that ``name`` (a type name or one of its aliases, any case) names."""
    wanted = name.lower()
    for cls in engine_classes():
        if wanted == cls.type_name or wanted in cls.aliases:
            return cls.type_name
    return None


def type_for_scheme(scheme: str) -> str | None:
    """The type whose URLs use the scheme ``scheme`` (a SQLAlchemy backend name)."""
    for cls in engine_classes():
        if scheme in cls.url_schemes:
            return cls.type_name
    return None


def url_schemes() -> list[str]:
    return [scheme for cls in engine_classes() for scheme in cls.url_schemes]


def types_with(part: str) -> list[str]:
    """The types that have the optional part ``part``, in registry order."""
    return [cls.type_name for cls in engine_classes() if part in cls.parts]


def embedded_class() -> type[Engine]:
    """The type dbplane creates databases of itself (``Engine.embedded``)."""
    for cls in engine_classes():
        if cls.embedded:
            return cls
    raise LookupError("no type served is created embedded")


def register(cls: type[Engine]) -> None:
    """Serve one more type (its class defined elsewhere)."""
    _extra[cls.type_name] = cls


def unregister(type_name: str) -> None:
    _extra.pop(type_name, None)
