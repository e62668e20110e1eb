"""The MySQL / MariaDB driver's exceptions (asyncmy's, by error number) as dbplane
errors."""

from __future__ import annotations

import re

from dbplane.engines.base import exception_chain, network_error
from dbplane.engines.sql.engine import constraint_error
from dbplane.engines.urls import DatabaseUrl
from dbplane.errors import (
    ConnectionCheckFailed,
    ConstraintViolation,
    DatabaseAuthFailed,
    DatabaseHostUnknown,
    DatabaseMissing,
    DatabaseUnreachable,
)
from dbplane.query.model import TableInfo

__all__ = [
    "connect_error",
    "connection_gone",
    "constraint_violation",
    "errno",
    "rejected_value",
    "undefined_object",
]

_GONE = frozenset({2006, 2013, 2055})  # client errors of a connection that is gone
_UNDEFINED = frozenset({1054, 1146, 1356})  # unknown column, no such table, bad view
# values a column cannot hold
_DATA_ERRORS = frozenset({1264, 1265, 1292, 1366, 1406, 1416, 3140, 4078})

# MySQL client and server error numbers met while connecting
_ACCESS_DENIED = {1044, 1045, 1698}
_UNKNOWN_DATABASE = 1049
_CANT_CONNECT = {2002, 2003, 2006, 2013}
_UNKNOWN_HOST = 2005

# integrity errors: the message names the column, the key or the constraint
_NOT_NULL = {1048, 1364}  # "Column 'c' cannot be null", "Field 'c' doesn't have a default"
_DUPLICATE = 1062  # "Duplicate entry '…' for key 'name'"
_FOREIGN_KEY = {1451, 1452}  # "… CONSTRAINT `name` FOREIGN KEY (`c`) REFERENCES …"
_CHECK = {4025, 3819}  # MariaDB, MySQL: "CONSTRAINT `name` failed for …" / "Check … `name`"
_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_BACKQUOTED = re.compile(r"`((?:[^`]|``)*)`")
_DUPLICATE_KEY = re.compile(r"for key '(.*)'$")


def errno(exc: BaseException) -> int | None:
    """The MySQL error number of the first driver error behind ``exc``."""
    for cur in exception_chain(exc):
        args = getattr(cur, "args", ())
        if args and isinstance(args[0], int):
            return args[0]
    return None


def connect_error(exc: BaseException, url: DatabaseUrl) -> ConnectionCheckFailed | None:
    """The error for a failure to connect that the server or client explained, if it is
    one."""
    user = url.url.username
    for cur in exception_chain(exc):
        args: tuple[object, ...] = tuple(getattr(cur, "args", ()))
        number = args[0] if args and isinstance(args[0], int) else None
        if number in _ACCESS_DENIED:
            return DatabaseAuthFailed(
                f"the server refused user {user!r} or its password: "
                f"{args[1] if len(args) > 1 else ''}",
                field="url", user=user)
        if number == _UNKNOWN_DATABASE:
            return DatabaseMissing(
                f"the server has no database {url.database!r}", field="url",
                database_name=url.database)
        if number == _UNKNOWN_HOST:
            return DatabaseHostUnknown(f"the host {url.host!r} does not resolve",
                                       field="url", host=url.host)
        if number in _CANT_CONNECT:
            known = network_error(exc, url)
            return known or DatabaseUnreachable(
                f"nothing answers at {url.host}:{url.port}", field="url",
                host=url.host, port=url.port)
    return None


def constraint_violation(exc: BaseException, table: TableInfo) -> ConstraintViolation | None:
    """The error for a write the server refused by a constraint, if ``exc`` is one."""
    for cur in exception_chain(exc):
        args: tuple[object, ...] = tuple(getattr(cur, "args", ()))
        if len(args) < 2 or not isinstance(args[0], int):
            continue
        number, message = args[0], str(args[1])
        quoted = [q.replace("''", "'") for q in _QUOTED.findall(message)]
        backquoted = [q.replace("``", "`") for q in _BACKQUOTED.findall(message)]
        if number in _NOT_NULL:
            return constraint_error("not_null", table,
                                    column=quoted[0] if quoted else None)
        if number == _DUPLICATE:
            # "Duplicate entry '<value, not shown>' for key '<name>'"
            key = _DUPLICATE_KEY.search(message)
            return constraint_error("unique", table,
                                    constraint=key.group(1) if key else None)
        if number in _FOREIGN_KEY:
            # (`db`.`child`, CONSTRAINT `fk` FOREIGN KEY (`col`) REFERENCES …
            after = message.split("CONSTRAINT", 1)[-1]
            names = [q.replace("``", "`") for q in _BACKQUOTED.findall(after)]
            return constraint_error("foreign_key", table,
                                    constraint=names[0] if names else None,
                                    columns=names[1:2] or None)
        if number in _CHECK:
            return constraint_error("check", table,
                                    constraint=backquoted[0] if backquoted else None)
    return None


def _own_errno(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def connection_gone(exc: BaseException) -> bool:
    """Whether ``exc`` (one exception, not a chain) says the connection is gone."""
    return _own_errno(exc) in _GONE or type(exc).__name__ == "InterfaceError"


def undefined_object(exc: BaseException) -> bool:
    """Whether ``exc`` says a statement named a table or column the database lacks."""
    return _own_errno(exc) in _UNDEFINED


def rejected_value(exc: BaseException) -> bool:
    """Whether ``exc`` says a value does not fit its column."""
    return _own_errno(exc) in _DATA_ERRORS
