"""Database engines: one package per type (``sqlite``, ``postgresql``, ``mysql``,
``redis``, ``influxdb``), what the SQL types share (``sql``), and the registry that names them.

A type's package holds its engine class (how its URLs are written, its pool, health and
version), its ``errors.py`` (the driver's exceptions as dbplane errors) and its optional
parts (tables, schema, routines, backups, actions, lock), which services find through
``dbplane.engines.parts``. See docs/architecture.md, "Adding an engine type".
"""

from __future__ import annotations

from dbplane.engines.base import PART_NAMES, Capabilities, Engine, Health, Instance
from dbplane.engines.parts import has_part, part
from dbplane.engines.registry import (
    embedded_class,
    engine_class,
    resolve_type,
    type_names,
    types_with,
)
from dbplane.engines.urls import DatabaseUrl, parse_database_url, redact_text, redact_url

__all__ = [
    "PART_NAMES",
    "Capabilities",
    "DatabaseUrl",
    "Engine",
    "Health",
    "Instance",
    "create_engine_for",
    "embedded_class",
    "engine_class",
    "has_part",
    "parse_database_url",
    "part",
    "redact_text",
    "redact_url",
    "resolve_type",
    "type_names",
    "types_with",
]


def create_engine_for(url: DatabaseUrl, *, timeout: float, create: bool = False) -> Engine:
    """A new (unconnected) engine for ``url``; ``create`` makes a missing embedded
    database."""
    engine = engine_class(url.type_name)(url, timeout=timeout)
    engine.create = create
    return engine
