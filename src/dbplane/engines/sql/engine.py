"""What the SQL engines share: one SQLAlchemy async engine (the pool), checks and health."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dbplane.engines.base import Engine, Health
from dbplane.engines.urls import DatabaseUrl, redact_text
from dbplane.errors import (
    CheckViolation,
    ConnectionCheckFailed,
    ConstraintViolation,
    DbplaneError,
    ForeignKeyViolation,
    NotNullViolation,
    UniqueViolation,
)
from dbplane.query.model import TableInfo

if TYPE_CHECKING:
    from dbplane.engines.sql.catalog import CatalogDialect
    from dbplane.engines.sql.ddl import DdlDialect
    from dbplane.engines.sql.dialect import TablesDialect

__all__ = ["SQL_PARTS", "SlowRead", "SqlEngine", "constraint_error"]


SQL_PARTS = {
    "tables": "dbplane.engines.sql.tables",
    "schema": "dbplane.engines.sql.schema",
    "routines": "dbplane.engines.sql.routines",
}
"""The parts every SQL type takes from the shared package; each type adds its own
(backups, actions, lock)."""


class SlowRead(Exception):
    """A read on the event loop ran past its budget (or met a lock): run it on the pool."""


class SqlEngine(Engine):
    """Base of the SQLite, PostgreSQL and MySQL engines."""

    driver: ClassVar[str]
    version_query: ClassVar[str]
    tables_dialect: ClassVar[TablesDialect]
    """What differs in the Tables API's SQL on this type."""
    catalog_dialect: ClassVar[CatalogDialect]
    """How this type's schema is read: its catalog query, its schema version, its words
    for types and defaults (the Tables API and the snapshot)."""
    ddl_dialect: ClassVar[DdlDialect]
    """How this type's schema changes: a plan's changes through Alembic, the apply's
    strategy, the dry run, migrations' SQL."""
    snapshot_vendor: ClassVar[str]
    """The vendor a schema snapshot of this type carries (Directus' word for it)."""

    def __init__(self, url: DatabaseUrl, *, timeout: float = 3.0) -> None:
        super().__init__(url, timeout=timeout)
        self._engine: AsyncEngine | None = None

    # -- hooks for subclasses --------------------------------------------------------

    def _sqlalchemy_url(self) -> URL:
        return self.url.url.set(drivername=self.driver)

    def _engine_options(self) -> dict[str, Any]:
        # No pre-ping: it costs round trips on every checkout (three on asyncpg), more
        # than a small read. A connection the server dropped is found by the request
        # that uses it (SQLAlchemy then empties the pool) and recycled after 30 minutes.
        # pool_size covers a loaded API: connections past it (overflow) are closed when
        # returned, and a new server connection per request costs more than the query
        return {"pool_pre_ping": False, "pool_recycle": 1800, "pool_size": 20,
                "max_overflow": 10}

    async def _precheck(self) -> None:
        """Checks to run before the pool is opened."""

    def _on_engine_created(self, engine: AsyncEngine) -> None:
        """Set up a new pool (e.g. per-connection pragmas)."""

    # -- what the driver's errors say (each type reads its own driver's) -----------------

    def connection_gone(self, exc: BaseException) -> bool:
        """Whether this one exception (of a chain) says the server dropped the
        connection, rather than refused the statement."""
        return type(exc).__name__ == "InterfaceError"

    def undefined_object(self, exc: BaseException) -> bool:
        """Whether this one exception says a statement named a table or column the
        database does not have."""
        return False

    def rejected_value(self, exc: BaseException) -> bool:
        """Whether this one exception says the database refused a value as data (too
        long, out of range, not of the column's type)."""
        return False

    def constraint_violation(self, exc: BaseException, table: TableInfo,
                             written: Collection[str] = ()) -> ConstraintViolation | None:
        """The dbplane error for a write to ``table`` (which set the columns ``written``)
        that the database refused by a constraint (NOT NULL, unique, foreign key, check),
        if ``exc`` is one: the one place each engine reads its driver's integrity errors
        (the Tables API's writes)."""
        return None

    # -- Engine protocol -------------------------------------------------------------

    @property
    def sa_engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_async_engine(self._sqlalchemy_url(),
                                               **self._engine_options())
            self._on_engine_created(self._engine)
        return self._engine

    async def connect(self) -> None:
        await self._precheck()
        try:
            await asyncio.wait_for(self._round_trip(), self.timeout)
        except Exception as exc:
            await self.close()
            known = self.connect_error(exc)
            if known is not None:
                raise known from exc
            raise ConnectionCheckFailed(
                "the database did not answer: " + _first_line(exc),
                field="url") from exc

    async def _round_trip(self) -> None:
        async with self.sa_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def health(self) -> Health:
        try:
            await asyncio.wait_for(self._round_trip(), self.timeout)
        except Exception as exc:
            known = self.connect_error(exc)
            return Health("unreachable", known.detail if known else _first_line(exc))
        return Health("running")

    async def version(self) -> str:
        async with self.sa_engine.connect() as conn:
            value = (await conn.execute(text(self.version_query))).scalar_one()
        if not isinstance(value, str):
            raise DbplaneError(f"{self.type_name} answered a version that is not text")
        return value

    # -- reads past SQLAlchemy's pool --------------------------------------------------

    direct_read_budget: float = 0.0
    """Seconds a read may run on the event loop (``read_direct``) before it is handed to
    the pool; 0: never on the loop."""

    def read_direct(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of a read run right on the event loop (SlowRead: run it on the
        pool instead)."""
        raise SlowRead("this engine does not read on the event loop")

    # whether ``direct_read`` serves the Tables API's reads
    direct_reads: ClassVar[bool] = False

    async def direct_read(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of one read-only statement (driver placeholders), on a
        connection of the engine's own read pool."""
        raise NotImplementedError

    async def run_writes(self, statements: Sequence[tuple[str, tuple[Any, ...]]],
                         check: Callable[[list[list[tuple[Any, ...]]]], None] | None = None,
                         ) -> list[list[tuple[Any, ...]]] | None:
        """Run write statements (driver placeholders) in one transaction on the engine's
        own fast path and answer each one's rows; None: this engine has none (they run on
        SQLAlchemy's pool). ``check`` sees the rows before the commit; what it raises
        rolls the transaction back."""
        return None

    async def drop_read_connections(self) -> None:
        """Forget the read pool's connections (the server dropped them)."""

    async def close(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()


def constraint_error(kind: str, table: TableInfo, *, column: str | None = None,
                     constraint: str | None = None,
                     columns: list[str] | None = None) -> ConstraintViolation:
    """The error for a refused write, worded the same for every engine; ``kind`` is
    ``not_null``, ``unique``, ``foreign_key`` or ``check``. Never quotes the values (the
    drivers' messages do)."""
    named = f" (constraint {constraint})" if constraint else ""
    if column is None and columns is not None and len(columns) == 1:
        column = columns[0]
    fields = {"table": table.name, "column": column, "constraint": constraint,
              "columns": columns}
    if kind == "not_null":
        return NotNullViolation(f"the column {column!r} of {table.name!r} cannot be null",
                                **fields)
    if kind == "unique":
        what = ", ".join(columns) if columns else "a unique key"
        return UniqueViolation(f"{table.name!r} already has a record with this value of "
                               f"{what}{named}", **fields)
    if kind == "foreign_key":
        return ForeignKeyViolation(
            f"the write to {table.name!r} refers to a record that does not exist, or "
            f"removes one that is still referred to{named}", **fields)
    return CheckViolation(f"the write to {table.name!r} breaks a check{named}", **fields)


def _first_line(exc: BaseException) -> str:
    lines = redact_text(str(exc)).splitlines()
    return lines[0] if lines else type(exc).__name__
