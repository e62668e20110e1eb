"""asyncpg's exceptions as dbplane errors."""

from __future__ import annotations

import re

import asyncpg

from dbplane.engines.base import exception_chain
from dbplane.engines.sql.engine import constraint_error
from dbplane.engines.urls import DatabaseUrl
from dbplane.errors import (
    ConnectionCheckFailed,
    ConstraintViolation,
    DatabaseAuthFailed,
    DatabaseMissing,
)
from dbplane.query.model import TableInfo

__all__ = [
    "connect_error",
    "connection_gone",
    "constraint_violation",
    "rejected_value",
    "sqlstate",
    "undefined_object",
]

_UNDEFINED = frozenset({"42P01", "42703"})  # undefined_table, undefined_column
# asyncpg's errors of a connection that is gone (InternalClientError: a query sent as the
# server's goodbye arrives)
_GONE = frozenset({"ConnectionDoesNotExistError", "InterfaceError", "ConnectionFailureError",
                   "AdminShutdownError", "InternalClientError",
                   # the server is starting up or shutting down (a restart)
                   "CannotConnectNowError"})

_KEY_COLUMNS = re.compile(r"Key \((.*?)\)=\(")
_SQLSTATES = {"23502": "not_null", "23505": "unique", "23503": "foreign_key",
              "23514": "check"}


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of the first PostgreSQL error behind ``exc``."""
    for cur in exception_chain(exc):
        state = getattr(cur, "sqlstate", None) or getattr(cur, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def connect_error(exc: BaseException, url: DatabaseUrl) -> ConnectionCheckFailed | None:
    """The error for a failure to connect that PostgreSQL explained (password, user,
    database), if it is one."""
    user = url.url.username
    for cur in exception_chain(exc):
        if isinstance(cur, asyncpg.InvalidPasswordError):
            return DatabaseAuthFailed(
                f"PostgreSQL refused the password of user {user!r}", field="url",
                user=user)
        if isinstance(cur, asyncpg.InvalidAuthorizationSpecificationError):
            return DatabaseAuthFailed(
                f"PostgreSQL refused the user {user!r}: {cur.args[0] if cur.args else ''}",
                field="url", user=user)
        if isinstance(cur, asyncpg.InvalidCatalogNameError):
            return DatabaseMissing(
                f"the PostgreSQL server has no database {url.database!r}",
                field="url", database_name=url.database)
    return None


def constraint_violation(exc: BaseException, table: TableInfo) -> ConstraintViolation | None:
    """The error for a write PostgreSQL refused by a constraint, if ``exc`` is one."""
    # asyncpg's errors carry the SQLSTATE and the constraint's (or column's) name
    for cur in exception_chain(exc):
        if not isinstance(cur, asyncpg.PostgresError):
            continue
        kind = _SQLSTATES.get(str(getattr(cur, "sqlstate", "")))
        if kind is None:
            return None
        constraint = getattr(cur, "constraint_name", None)
        if kind == "not_null":
            return constraint_error(kind, table, column=getattr(cur, "column_name", None))
        columns = None
        match = _KEY_COLUMNS.search(str(getattr(cur, "detail", "") or ""))
        if match is not None:
            columns = [c.strip().strip('"') for c in match.group(1).split(", ")]
        return constraint_error(kind, table, constraint=constraint, columns=columns)
    return None


def _own_sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return state if isinstance(state, str) else None


def connection_gone(exc: BaseException) -> bool:
    """Whether ``exc`` (one exception, not a chain) says the server dropped the
    connection."""
    return type(exc).__name__ in _GONE


def undefined_object(exc: BaseException) -> bool:
    """Whether ``exc`` says a statement named a table or column the database lacks."""
    return _own_sqlstate(exc) in _UNDEFINED


def rejected_value(exc: BaseException) -> bool:
    """Whether ``exc`` is a data exception (SQLSTATE class 22), or an upsert whose rows
    name the same key twice (21000: "ON CONFLICT DO UPDATE command cannot affect row a
    second time")."""
    state = _own_sqlstate(exc)
    return state is not None and (state.startswith("22") or state == "21000")
