"""Database engines: one adapter per type, registered in ``ENGINES``.

The registry names each adapter's module, imported the first time a database of that type
is used: a dbplane that serves only SQLite never loads the PostgreSQL, MySQL or Redis
drivers (about 60 MB of resident memory).
"""

from __future__ import annotations

import importlib

from dbplane.engines.base import Capabilities, Engine, Health, Instance
from dbplane.engines.urls import DatabaseUrl, parse_database_url, redact_text, redact_url

__all__ = [
    "ENGINES",
    "Capabilities",
    "DatabaseUrl",
    "Engine",
    "Health",
    "Instance",
    "create_engine_for",
    "engine_class",
    "parse_database_url",
    "redact_text",
    "redact_url",
]

# type name -> "module:class" of its adapter
ENGINES: dict[str, str] = {
    "sqlite": "dbplane.engines.sqlite.engine:SqliteEngine",
    "postgresql": "dbplane.engines.postgresql.engine:PostgresqlEngine",
    "mysql": "dbplane.engines.mysql.engine:MysqlEngine",
    "redis": "dbplane.engines.redis.engine:RedisEngine",
}


def engine_class(type_name: str) -> type[Engine]:
    """The adapter class of a database type (imported on first use)."""
    module, _, name = ENGINES[type_name].partition(":")
    cls: type[Engine] = getattr(importlib.import_module(module), name)
    return cls


def create_engine_for(url: DatabaseUrl, *, timeout: float, create: bool = False) -> Engine:
    """A new (unconnected) engine for ``url``; ``create`` makes a missing SQLite file."""
    engine = engine_class(url.type_name)(url, timeout=timeout)  # type: ignore[call-arg]
    if create:
        engine.create = True  # type: ignore[attr-defined]
    return engine
