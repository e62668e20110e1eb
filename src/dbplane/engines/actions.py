"""Database actions (``POST /v1/databases/{db}/action``): what each type can do on its
server, and how.

One adapter class per type, named in ``ADAPTERS`` and imported on first use like the
engines: SQLite, PostgreSQL and MySQL/MariaDB in ``actions_<type>.py``; Redis has no
adapter (only ``list-actions``, which the service answers). An adapter talks to the server
through its engine's pool and turns driver errors into dbplane errors; which action runs,
its params and which logical databases are protected are decided by the service.

Names reach SQL only after the service checked them against the identifier rules, and
always quoted by the dialect's ``identifier_preparer``; values are bound.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import ClassVar

from sqlalchemy.exc import DBAPIError

from dbplane.engines.base import Engine, exception_chain, network_error
from dbplane.engines.urls import DatabaseUrl, redact_text
from dbplane.errors import (
    ActionRefused,
    ActionServerUnavailable,
    DbplaneError,
)

__all__ = [
    "ADAPTERS",
    "ActionsAdapter",
    "actions_for",
    "first_line",
    "same_server",
    "translated",
]

# type name -> "module:class" of its actions adapter
ADAPTERS: dict[str, str] = {
    "sqlite": "dbplane.engines.sqlite.actions:SqliteActions",
    "postgresql": "dbplane.engines.postgresql.actions:PostgresqlActions",
    "mysql": "dbplane.engines.mysql.actions:MysqlActions",
}


def first_line(exc: BaseException) -> str:
    """The first line of a driver's message, with any URL password hidden."""
    lines = redact_text(str(exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@asynccontextmanager
async def translated(engine: Engine,
                     known: Callable[[BaseException], DbplaneError | None] | None = None,
                     ) -> AsyncIterator[None]:
    """Run a block against the server: a known driver error becomes its dbplane error
    (``known``), a network failure ActionServerUnavailable (503), any other error the
    server answered ActionRefused (409) with the server's message."""
    try:
        yield
    except DbplaneError:
        raise
    except Exception as exc:
        mapped = known(exc) if known is not None else None
        if mapped is not None:
            raise mapped from exc
        unreachable = network_error(exc, engine.url)
        if unreachable is not None:
            raise ActionServerUnavailable(f"the database server did not answer: "
                                          f"{unreachable.detail}") from exc
        if any(isinstance(cur, DBAPIError) for cur in exception_chain(exc)):
            raise ActionRefused(f"the database server refused the action: "
                                f"{first_line(exc)}") from exc
        raise


class ActionsAdapter:
    """The actions of one database type on one engine; subclasses implement what their
    ``supported`` set names."""

    supported: ClassVar[frozenset[str]] = frozenset({"list-actions"})
    system_databases: ClassVar[frozenset[str]] = frozenset()
    """Logical databases of the server itself, never deleted or reset."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def own_database(self) -> str | None:
        """The logical database the registered URL names (protected)."""
        return None

    def logical_name(self, url: DatabaseUrl) -> str | None:
        """The logical database of this server that ``url`` names, if it names one."""
        return None

    # -- logical databases (every SQL type) ------------------------------------------

    async def list_databases(self) -> list[str]:
        raise NotImplementedError

    async def create_database(self, name: str) -> None:
        raise NotImplementedError

    async def delete_database(self, name: str, *, force: bool = False) -> None:
        raise NotImplementedError

    async def reset_database(self, name: str) -> None:
        raise NotImplementedError


class _RedisActions(ActionsAdapter):
    """Redis: only ``list-actions``."""


def actions_for(engine: Engine) -> ActionsAdapter:
    """The actions adapter of ``engine``'s type (one that can only ``list-actions`` for a
    type without actions)."""
    target = ADAPTERS.get(engine.type_name)
    if target is None:
        return _RedisActions(engine)
    module, _, name = target.partition(":")
    cls: type[ActionsAdapter] = getattr(importlib.import_module(module), name)
    return cls(engine)


def same_server(a: DatabaseUrl, b: DatabaseUrl) -> bool:
    """Whether two URLs reach the same server (type, host and port as written)."""
    return (a.type_name == b.type_name and (a.host or "localhost") == (b.host or "localhost")
            and a.port == b.port)
