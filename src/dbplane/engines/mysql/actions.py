"""MySQL / MariaDB actions: logical databases (schemas) and the server's SQL mode.

``set-sqlmode`` sets the GLOBAL ``sql_mode`` (a session's mode on a pooled connection
would last until that connection is reused): every new connection gets it, and dbplane's
own pool of this database is emptied so its next connections have it too. It needs the
SUPER (MariaDB) or SYSTEM_VARIABLES_ADMIN (MySQL) privilege.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from typing import ClassVar

from sqlalchemy import text

from dbplane.engines.actions import ActionsAdapter, first_line, translated
from dbplane.engines.mysql.engine import MysqlEngine
from dbplane.engines.mysql.errors import errno
from dbplane.errors import (
    ActionRefused,
    ActionServerUnavailable,
    DbplaneError,
    InvalidActionParams,
    LogicalDatabaseExists,
    LogicalDatabaseNotFound,
)

__all__ = ["MysqlActions"]

_DB_EXISTS = 1007
_DB_MISSING = 1008
_CANT_CONNECT = {2002, 2003, 2006, 2013}
_BAD_VALUE = {1231, 1232}  # a value the variable cannot take
_WORD = re.compile(r"^[A-Za-z0-9_]+$")

# the modes each server accepts, read once per engine (see accepted_sql_modes)
_ACCEPTED: weakref.WeakKeyDictionary[MysqlEngine, frozenset[str]] = \
    weakref.WeakKeyDictionary()


def _unreachable(exc: BaseException) -> DbplaneError | None:
    # the driver's own "can't connect" errors carry no OSError to recognise them by
    if errno(exc) in _CANT_CONNECT:
        return ActionServerUnavailable(f"the database server did not answer: "
                                       f"{first_line(exc)}")
    return None


class MysqlActions(ActionsAdapter):
    supported: ClassVar[frozenset[str]] = frozenset({
        "list-actions", "list-databases", "create-database", "delete-database",
        "reset-database", "get-sqlmode", "set-sqlmode",
    })
    system_databases: ClassVar[frozenset[str]] = frozenset(
        {"mysql", "information_schema", "performance_schema", "sys"})

    engine: MysqlEngine

    def _quote(self, name: str) -> str:
        return self.engine.sa_engine.dialect.identifier_preparer.quote_identifier(name)

    def _known(self, name: str) -> Callable[[BaseException], DbplaneError | None]:
        def known(exc: BaseException) -> DbplaneError | None:
            number = errno(exc)
            if number == _DB_EXISTS:
                return LogicalDatabaseExists(
                    f"the server already has a database named {name!r}", database_name=name)
            if number == _DB_MISSING:
                return LogicalDatabaseNotFound(
                    f"the server has no database named {name!r}", database_name=name)
            return _unreachable(exc)
        return known

    async def _run(self, sql: str, name: str) -> None:
        async with translated(self.engine, self._known(name)), \
                self.engine.sa_engine.connect() as conn:
            await conn.execute(text(sql))

    # -- logical databases -------------------------------------------------------------

    async def list_databases(self) -> list[str]:
        async with translated(self.engine, _unreachable), self.engine.sa_engine.connect() as conn:
            rows = await conn.execute(text(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME"))
            return [str(r[0]) for r in rows]

    async def create_database(self, name: str) -> None:
        await self._run(f"CREATE DATABASE {self._quote(name)}", name)

    async def delete_database(self, name: str, *, force: bool = False) -> None:
        # MySQL has no "in use" refusal: DROP DATABASE waits for the tables' metadata
        # locks held by other sessions (lock_wait_timeout), so ``force`` changes nothing
        await self._run(f"DROP DATABASE {self._quote(name)}", name)

    async def reset_database(self, name: str) -> None:
        """Drop the database and create it again with the same character set and
        collation: every table, view, routine, trigger and event goes; the grants on it
        (kept in ``mysql.db``) stay."""
        async with translated(self.engine, self._known(name)), \
                self.engine.sa_engine.connect() as conn:
            found = (await conn.execute(text(
                "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
                "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :name"),
                {"name": name})).first()
            if found is None:
                raise LogicalDatabaseNotFound(f"the server has no database named {name!r}",
                                              database_name=name)
            charset, collation = str(found[0]), str(found[1])
            if not (_WORD.match(charset) and _WORD.match(collation)):
                raise ActionRefused(f"the database {name!r} has a character set or "
                                    "collation dbplane cannot recreate", database_name=name)
            await conn.execute(text(f"DROP DATABASE {self._quote(name)}"))
            await conn.execute(text(f"CREATE DATABASE {self._quote(name)} "
                                    f"CHARACTER SET {charset} COLLATE {collation}"))

    # -- SQL mode ------------------------------------------------------------------------

    async def get_sql_mode(self) -> str:
        async with translated(self.engine, _unreachable), self.engine.sa_engine.connect() as conn:
            return str((await conn.execute(text("SELECT @@GLOBAL.sql_mode"))).scalar_one())

    async def accepted_sql_modes(self) -> frozenset[str]:
        """Every mode name this server accepts, asked of the server itself: ``sql_mode``
        may be set as a bit mask, so each bit is set in turn on a session (until the
        server refuses one) and read back by name; combination modes (ANSI, TRADITIONAL)
        come back with the modes they imply."""
        cached = _ACCEPTED.get(self.engine)
        if cached is not None:
            return cached
        names: set[str] = set()
        async with translated(self.engine, _unreachable), self.engine.sa_engine.connect() as conn:
            before = (await conn.execute(text("SELECT @@SESSION.sql_mode"))).scalar_one()
            try:
                for bit in range(64):
                    try:
                        await conn.execute(text("SET SESSION sql_mode = :mask"),
                                           {"mask": 1 << bit})
                    except Exception as exc:
                        if errno(exc) in _BAD_VALUE:  # not a valid value: past the end
                            break
                        raise
                    mode = (await conn.execute(text("SELECT @@SESSION.sql_mode"))
                            ).scalar_one()
                    names.update(n for n in str(mode).split(",") if n)
            finally:
                await conn.execute(text("SET SESSION sql_mode = :mode"), {"mode": before})
        accepted = frozenset(names)
        _ACCEPTED[self.engine] = accepted
        return accepted

    async def set_sql_mode(self, modes: str) -> None:
        def known(exc: BaseException) -> DbplaneError | None:
            if errno(exc) in _BAD_VALUE:  # e.g. modes the server cannot combine
                return InvalidActionParams(f"params: the server refused the SQL mode "
                                           f"{modes!r}: {first_line(exc)}", field="params")
            return _unreachable(exc)

        async with translated(self.engine, known), self.engine.sa_engine.connect() as conn:
            await conn.execute(text("SET GLOBAL sql_mode = :mode"), {"mode": modes})
        # the pool's connections keep the mode they started with: start new ones
        await self.engine.sa_engine.dispose()
