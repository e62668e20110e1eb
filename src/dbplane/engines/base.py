"""The Engine protocol every database type implements, and what an engine can do.

An engine owns one connection pool to one database, created by ``connect`` and reused
until ``close``. Services ask ``engine.capabilities``; they never test the type name.
Driver exceptions are turned into dbplane errors inside the engine, keeping the original
as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from dbplane.engines.urls import DatabaseUrl
from dbplane.errors import (
    ConnectionCheckFailed,
    DatabaseHostUnknown,
    DatabaseUnreachable,
)

__all__ = [
    "Capabilities",
    "Engine",
    "Health",
    "Instance",
    "exception_chain",
    "network_error",
]


@dataclass(frozen=True)
class Capabilities:
    """What a database type can do."""

    sql: bool
    transactional_ddl: bool = False
    backups: bool = False
    actions: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Health:
    """The answer of a health check: ``running`` or ``unreachable`` with the reason."""

    status: str
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class Instance:
    """A server node behind a database."""

    hostname: str
    port: int | None
    type: str = "db-node"


class Engine(Protocol):
    """One database of one type, reached through one pool."""

    type_name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    url: DatabaseUrl

    async def connect(self) -> None:
        """Open the pool and check the database answers.

        Raises a ConnectionCheckFailed subclass that names the host, port, user or
        database at fault.
        """

    async def health(self) -> Health:
        """Check the database answers now (a round trip), never raising."""

    async def version(self) -> str:
        """The server's own version string."""

    async def features(self) -> list[dict[str, str]]:
        """The features active on this database, as ``{name, status}``."""

    def instances(self) -> list[Instance]:
        """The nodes behind the database."""

    async def close(self) -> None:
        """Close the pool."""


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception behind it (``__cause__``, ``__context__``, ``orig``)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        todo.extend([cur.__cause__, cur.__context__, getattr(cur, "orig", None)])


def network_error(exc: BaseException, url: DatabaseUrl) -> ConnectionCheckFailed | None:
    """The dbplane error for a failure to reach ``url``'s host and port, if that is it."""
    for cur in exception_chain(exc):
        if isinstance(cur, socket.gaierror):
            return DatabaseHostUnknown(
                f"the host {url.host!r} does not resolve", field="url", host=url.host)
        if isinstance(cur, (ConnectionRefusedError, asyncio.TimeoutError, TimeoutError,
                            ConnectionResetError)):
            return DatabaseUnreachable(
                f"nothing answers at {url.host}:{url.port} (is the port right and the "
                "server running?)", field="url", host=url.host, port=url.port)
        if isinstance(cur, OSError) and cur.errno is not None:
            return DatabaseUnreachable(
                f"cannot reach {url.host}:{url.port}: {cur.strerror}", field="url",
                host=url.host, port=url.port)
    return None
