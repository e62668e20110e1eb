"""Scratch copies for restore drills: an engine of the same type on a throwaway place.

A type's ``fingerprint`` part answers ``scratch(engine)``, an async context manager that
yields an engine of a scratch database (a temporary SQLite file, a scratch database on
the same server, a private redis-server) and removes it on exit, whatever happened.
These helpers build an engine of the same class for another URL.
"""

from __future__ import annotations

import secrets

from dbplane.engines.base import Engine
from dbplane.engines.urls import parse_database_url

__all__ = ["SCRATCH_PREFIX", "engine_at", "scratch_name", "with_database"]

SCRATCH_PREFIX = "dbplane_drill_"
"""Every scratch database's name starts with this (a leftover is recognisable)."""


def scratch_name() -> str:
    return SCRATCH_PREFIX + secrets.token_hex(6)


def engine_at(engine: Engine, raw_url: str) -> Engine:
    """An engine of ``engine``'s class for ``raw_url`` (not connected)."""
    return type(engine)(parse_database_url(raw_url), timeout=engine.timeout)


def with_database(engine: Engine, database: str) -> str:
    """``engine``'s URL, password included, naming another database."""
    return engine.url.url.set(database=database).render_as_string(hide_password=False)
