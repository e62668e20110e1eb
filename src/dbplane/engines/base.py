"""What every database type is: the ``Engine`` base class, its optional parts, and what a
health check answers.

An engine owns one connection pool to one database, created by ``connect`` and reused
until ``close``. A type says on its class how its URLs are written (``url_schemes``,
``default_port``…) and which optional parts it has (``parts``: tables, schema, routines,
backups, actions, lock, each a module or class of its own package, imported the first
time it is used). Services ask :mod:`dbplane.engines.parts` for a part; they never test
the type name. Driver exceptions are turned into dbplane errors inside the type's
package (its ``errors.py``), keeping the original as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from dbplane.errors import (
    ConnectionCheckFailed,
    DatabaseHostUnknown,
    DatabaseUnreachable,
    InvalidDatabaseUrl,
)

if TYPE_CHECKING:
    from dbplane.engines.urls import DatabaseUrl

__all__ = [
    "PART_NAMES",
    "Capabilities",
    "Engine",
    "Health",
    "Instance",
    "exception_chain",
    "network_error",
]

PART_NAMES = ("tables", "schema", "routines", "backups", "actions", "lock", "managed",
              "fingerprint")
"""The optional parts a type may have (see ``dbplane.engines.parts``)."""


@dataclass(frozen=True)
class Capabilities:
    """What a database type can do: the names of the optional parts it has."""

    parts: frozenset[str]

    def has(self, part: str) -> bool:
        return part in self.parts


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


class Engine:
    """One database of one type, reached through one pool. Subclasses set the class
    attributes and implement the methods; the registry (``dbplane.engines.registry``)
    names each type's class."""

    type_name: ClassVar[str]
    """The type's name in the API (``type_name`` of a database)."""
    label: ClassVar[str] = ""
    """The type's name in prose (``PostgreSQL``)."""
    url_schemes: ClassVar[tuple[str, ...]] = ()
    """The URL schemes (SQLAlchemy backend names) that name this type."""
    aliases: ClassVar[tuple[str, ...]] = ()
    """Other names accepted for the type in a request's ``type_name``."""
    default_port: ClassVar[int | None] = None
    needs_database_name: ClassVar[bool] = False
    """Whether a URL of this type must name a database (``…/name``)."""
    embedded: ClassVar[bool] = False
    """Whether dbplane creates databases of this type itself, as files of its own."""
    parts: ClassVar[Mapping[str, str]] = {}
    """Optional part name → ``"module"`` or ``"module:attribute"`` implementing it."""

    url: DatabaseUrl
    create: bool = False
    """Create the database when it does not exist (an embedded database)."""

    def __init__(self, url: DatabaseUrl, *, timeout: float = 3.0) -> None:
        self.url = url
        self.timeout = timeout

    # -- the type, from its class -------------------------------------------------------

    @classmethod
    def capabilities_of(cls) -> Capabilities:
        return Capabilities(frozenset(cls.parts))

    @property
    def capabilities(self) -> Capabilities:
        return self.capabilities_of()

    @classmethod
    def check_url(cls, url: DatabaseUrl) -> None:
        """Raise InvalidDatabaseUrl for a URL of this type that cannot be served: by
        default one without a host, or without a database when the type needs one."""
        if not url.host:
            raise InvalidDatabaseUrl("the url has no host", url=url.redacted())
        if cls.needs_database_name and not url.database:
            raise InvalidDatabaseUrl("the url names no database (…/name at its end)",
                                     url=url.redacted())

    @classmethod
    def local_file(cls, url: DatabaseUrl) -> Path | None:
        """The file on dbplane's own host that ``url`` serves, for a file-based type."""
        return None

    @classmethod
    def embedded_url(cls, directory: Path, resource_id: str) -> str:
        """The URL of a database dbplane creates itself under ``directory``."""
        raise NotImplementedError(f"{cls.type_name} databases are not created embedded")

    # -- one database -------------------------------------------------------------------

    def connect_error(self, exc: BaseException) -> ConnectionCheckFailed | None:
        """The dbplane error for a failure to reach or log in to the server, if ``exc``
        (a driver error, or one wrapping it) is one: the host, port, user or database at
        fault. The type's ``errors.py`` reads its driver; this base knows the network."""
        return network_error(exc, self.url)

    async def connect(self) -> None:
        """Open the pool and check the database answers.

        Raises a ConnectionCheckFailed subclass that names the host, port, user or
        database at fault.
        """
        raise NotImplementedError

    async def health(self) -> Health:
        """Check the database answers now (a round trip), never raising."""
        raise NotImplementedError

    async def version(self) -> str:
        """The server's own version string."""
        raise NotImplementedError

    async def features(self) -> list[dict[str, str]]:
        """The features active on this database, as ``{name, status}``."""
        return []

    def instances(self) -> list[Instance]:
        """The nodes behind the database."""
        return [Instance(hostname=self.url.host or "localhost", port=self.url.port)]

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
