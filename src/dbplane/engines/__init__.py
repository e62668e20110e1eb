"""Database engines: one adapter per type, registered in ``ENGINES``."""

from __future__ import annotations

from dbplane.engines.base import Capabilities, Engine, Health, Instance
from dbplane.engines.mysql import MysqlEngine
from dbplane.engines.postgresql import PostgresqlEngine
from dbplane.engines.redis import RedisEngine
from dbplane.engines.sqlite import SqliteEngine
from dbplane.engines.urls import DatabaseUrl, parse_database_url, redact_text, redact_url

__all__ = [
    "ENGINES",
    "Capabilities",
    "DatabaseUrl",
    "Engine",
    "Health",
    "Instance",
    "create_engine_for",
    "parse_database_url",
    "redact_text",
    "redact_url",
]

ENGINES: dict[str, type[SqliteEngine | PostgresqlEngine | MysqlEngine | RedisEngine]] = {
    "sqlite": SqliteEngine,
    "postgresql": PostgresqlEngine,
    "mysql": MysqlEngine,
    "redis": RedisEngine,
}


def create_engine_for(url: DatabaseUrl, *, timeout: float, create: bool = False) -> Engine:
    """A new (unconnected) engine for ``url``; ``create`` makes a missing SQLite file."""
    engine = ENGINES[url.type_name](url, timeout=timeout)
    if isinstance(engine, SqliteEngine):
        engine.create = create
    return engine
