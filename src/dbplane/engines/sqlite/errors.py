"""SQLite's exceptions (the ``sqlite3`` module's, under aiosqlite) as dbplane errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from dbplane.engines.base import exception_chain
from dbplane.engines.sql.engine import constraint_error
from dbplane.errors import ConstraintViolation
from dbplane.query.model import TableInfo

__all__ = ["constraint_violation", "locked", "undefined_object"]

# what SQLite says of a table or column a statement names and the database does not have
_UNDEFINED = ("no such table", "no such column", "has no column named")


def constraint_violation(exc: BaseException, table: TableInfo,
                         written: Collection[str] = ()) -> ConstraintViolation | None:
    # SQLite says which columns, never a constraint's name (except a named CHECK):
    # "NOT NULL constraint failed: t.c", "UNIQUE constraint failed: t.a, t.b",
    # "FOREIGN KEY constraint failed", "CHECK constraint failed: name"
    for cur in exception_chain(exc):
        if not isinstance(cur, sqlite3.IntegrityError):
            continue
        message = str(cur)
        kind, _, rest = message.partition(" constraint failed")
        rest = rest.removeprefix(":").strip()
        if kind == "NOT NULL":
            return constraint_error("not_null", table, column=_unqualified(rest, table))
        if kind in ("UNIQUE", "PRIMARY KEY"):
            columns = [_unqualified(part, table) for part in rest.split(", ")]
            return constraint_error("unique", table, columns=columns)
        if kind == "FOREIGN KEY":
            # the one foreign key of the table among the columns written, if there is
            # one; otherwise (a delete, or a referred key changed, fails because of
            # another table, which SQLite does not name) none
            fks = [fk for fk in table.foreign_keys if set(fk.columns) & set(written)]
            if len(fks) == 1:
                return constraint_error("foreign_key", table, constraint=fks[0].name,
                                        columns=list(fks[0].columns))
            return constraint_error("foreign_key", table)
        if kind == "CHECK":
            return constraint_error("check", table, constraint=rest or None)
    return None


def _unqualified(name: str, table: TableInfo) -> str:
    return name.removeprefix(f"{table.name}.")


def locked(exc: BaseException) -> bool:
    """Whether ``exc`` says another connection holds the database's lock."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text


def undefined_object(exc: BaseException) -> bool:
    """Whether ``exc`` (one exception, not a chain) says a statement named a table or
    column the database does not have."""
    args = getattr(exc, "args", ())
    text = str(args[0]) if args else ""
    return type(exc).__name__ == "OperationalError" and any(m in text for m in _UNDEFINED)
