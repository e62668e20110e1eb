"""Database actions (``POST /v1/databases/{db}/action``): what each type can do on its
server, and how.

One adapter class per type, the ``actions`` part of its engine (``<type>/actions.py``),
imported on first use: SQLite, PostgreSQL, MySQL/MariaDB and InfluxDB; a type without the part
(Redis) gets this base class, which can only ``list-actions`` (the service answers it).
An adapter talks to the server through its engine's pool and turns driver errors into
dbplane errors; which action runs, its params and which logical databases are protected
are decided by the service.

Names reach SQL only after the service checked them against the identifier rules, and
always quoted by the dialect's ``identifier_preparer``; values are bound.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from sqlalchemy.exc import DBAPIError

from dbplane.engines.base import Engine, exception_chain, network_error
from dbplane.engines.parts import has_part, part
from dbplane.engines.urls import DatabaseUrl, redact_text
from dbplane.errors import (
    ActionRefused,
    ActionServerUnavailable,
    DbplaneError,
)

__all__ = [
    "ActionsAdapter",
    "actions_for",
    "first_line",
    "same_server",
    "translated",
]

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

    changeable_features: ClassVar[tuple[str, ...]] = ()
    """The features dbplane enables and disables itself on this type (the others a
    database shows are the server's configuration, read live)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- features dbplane changes --------------------------------------------------------

    async def feature_status(self, name: str) -> str | None:
        """The status of a changeable feature as the server has it (None: not enabled)."""
        return None

    async def enable_feature(self, name: str) -> None:
        raise NotImplementedError

    async def disable_feature(self, name: str) -> None:
        raise NotImplementedError

    def own_database(self) -> str | None:
        """The logical database the registered URL names (protected): its path's name,
        unless the type reads it otherwise."""
        return self.engine.url.database or None

    def logical_name(self, url: DatabaseUrl) -> str | None:
        """The logical database of this server that ``url`` names, if it names one."""
        if not same_server(url, self.engine.url):
            return None
        return url.database or None

    # -- logical databases (every SQL type) ------------------------------------------

    async def list_databases(self) -> list[str]:
        raise NotImplementedError

    async def create_database(self, name: str) -> None:
        raise NotImplementedError

    async def delete_database(self, name: str, *, force: bool = False) -> None:
        raise NotImplementedError

    async def reset_database(self, name: str) -> None:
        raise NotImplementedError

    # -- server-specific actions (only those the type's ``supported`` names) ------------

    async def list_extensions(self) -> list[dict[str, str]]:
        raise NotImplementedError

    async def list_queries(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def signal_backend(self, pid: int, *, terminate: bool) -> None:
        raise NotImplementedError

    async def stat_statements_enable(self) -> None:
        raise NotImplementedError

    async def stat_statements_reset(self) -> None:
        raise NotImplementedError

    async def stat_statements_list(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def get_sql_mode(self) -> str:
        raise NotImplementedError

    async def accepted_sql_modes(self) -> frozenset[str]:
        raise NotImplementedError

    async def set_sql_mode(self, modes: str) -> None:
        raise NotImplementedError

    async def list_retention_policies(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def add_retention_policy(self, name: str, duration: str, default: bool) -> None:
        raise NotImplementedError

    async def del_retention_policy(self, name: str) -> None:
        raise NotImplementedError


def actions_for(engine: Engine) -> ActionsAdapter:
    """The actions adapter of ``engine``'s type (one that can only ``list-actions`` for a
    type without the ``actions`` part)."""
    if not has_part(engine, "actions"):
        return ActionsAdapter(engine)
    cls: type[ActionsAdapter] = part(engine, "actions")
    return cls(engine)


def same_server(a: DatabaseUrl, b: DatabaseUrl) -> bool:
    """Whether two URLs reach the same server (type, host and port as written)."""
    return (a.type_name == b.type_name and (a.host or "localhost") == (b.host or "localhost")
            and a.port == b.port)
