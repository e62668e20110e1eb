"""What a read does when the database's server drops or refuses its connections: run
once more on fresh connections (reads can be repeated), then answer a 503 that says why
(stopped, starting, shutting down, or the database gone behind dbplane's back), and the
catalogue reads (``introspect``, ``schema_version``) the Tables API makes, with the same
care."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

from sqlalchemy.exc import DBAPIError

from dbplane.engines.base import exception_chain, network_error
from dbplane.engines.sql import introspect as _catalog
from dbplane.engines.sql.engine import SqlEngine
from dbplane.errors import DatabaseServerUnavailable
from dbplane.query.model import SchemaInfo

__all__ = ["connection_lost", "drop_pool", "introspect", "reraise", "schema_version"]

T = TypeVar("T")


def connection_lost(engine: SqlEngine, exc: BaseException) -> bool:
    """Whether ``exc`` says the server dropped the connection (a restart, an idle timeout,
    an administrator), rather than refused the statement."""
    for cur in exception_chain(exc):
        if isinstance(cur, DBAPIError) and cur.connection_invalidated:
            return True
        if isinstance(cur, ConnectionError) or engine.connection_gone(cur):
            return True
    return False


async def drop_pool(engine: SqlEngine) -> None:
    # its other connections were most likely dropped too: start a new pool
    await engine.sa_engine.dispose(close=False)


def _unavailable(engine: SqlEngine, exc: Exception) -> Exception:
    """A read that failed again on fresh connections: a 503 when the server takes no
    connections (stopped, starting, shutting down) or no longer has the database (dropped
    behind dbplane's back: the connect error names it), else the error itself."""
    refused = engine.connect_error(exc)
    if refused is not None:
        return DatabaseServerUnavailable(f"the database does not answer: {refused.detail}")
    if connection_lost(engine, exc) or network_error(exc, engine.url) is not None:
        return DatabaseServerUnavailable(
            f"the database server does not answer: {str(exc).strip()[:200]}")
    return exc


def reraise(engine: SqlEngine, exc: Exception) -> NoReturn:
    """Raise ``exc`` as the 503 it means when the server took no connection, else as it
    is (a statement the server refused goes on to its own translation)."""
    translated = _unavailable(engine, exc)
    if translated is exc:
        raise exc
    raise translated from exc


async def _with_catalog(engine: SqlEngine, read: Callable[[SqlEngine], Awaitable[T]]) -> T:
    """A catalogue read, once more on fresh connections when the server dropped the
    pool's, then a 503 naming why (see :func:`_unavailable`)."""
    try:
        return await read(engine)
    except Exception as exc:
        if not connection_lost(engine, exc):
            reraise(engine, exc)
        await drop_pool(engine)
    try:
        return await read(engine)
    except Exception as exc:
        reraise(engine, exc)


async def introspect(engine: SqlEngine) -> SchemaInfo:
    """The tables, columns, keys and relations the Tables API serves."""
    return await _with_catalog(engine, _catalog.introspect)


async def schema_version(engine: SqlEngine) -> str:
    """A digest of the catalogue: it changes when a table or column does."""
    return await _with_catalog(engine, _catalog.schema_version)
