"""The SQLite engine: an embedded file under the data directory, or an existing file."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from dbplane.engines.base import Health, Instance
from dbplane.engines.sql.engine import SQL_PARTS, SlowRead, SqlEngine
from dbplane.engines.sqlite import errors
from dbplane.engines.sqlite.catalog import SqliteCatalog
from dbplane.engines.sqlite.ddl import SqliteDdl
from dbplane.engines.sqlite.tables import SqliteTables
from dbplane.engines.urls import DatabaseUrl
from dbplane.errors import (
    ConnectionCheckFailed,
    ConstraintViolation,
    DatabaseLocked,
    DatabaseMissing,
    InvalidDatabaseUrl,
)
from dbplane.query.model import TableInfo

__all__ = ["SlowRead", "SqliteEngine"]

_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000
"""How long a statement waits for another connection's lock."""


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _locked_is_unavailable(context: Any) -> BaseException | None:
    """A statement that waited the whole busy timeout for another connection's lock is
    a DatabaseLocked (503 with Retry-After), not an unexpected error."""
    original = context.original_exception
    if original is not None and errors.locked(original):
        return DatabaseLocked(
            f"the database is locked by another connection (waited "
            f"{BUSY_TIMEOUT_MS // 1000} s): try again shortly")
    return None


class SqliteEngine(SqlEngine):
    type_name = "sqlite"
    label = "SQLite"
    url_schemes = ("sqlite",)
    aliases = ("sqlite3",)
    embedded = True
    parts = {
        **SQL_PARTS,
        "backups": "dbplane.engines.sqlite.backups:SqliteBackups",
        "actions": "dbplane.engines.sqlite.actions:SqliteActions",
        "lock": "dbplane.engines.sqlite.lock:SqliteLock",
        "fingerprint": "dbplane.engines.sqlite.fingerprint",
    }
    driver = "sqlite+aiosqlite"
    version_query = "SELECT sqlite_version()"
    tables_dialect = SqliteTables()
    catalog_dialect = SqliteCatalog()
    ddl_dialect = SqliteDdl()
    snapshot_vendor = "sqlite"

    @classmethod
    def check_url(cls, url: DatabaseUrl) -> None:
        path = url.database
        if not path or path == ":memory:" or not Path(path).is_absolute():
            raise InvalidDatabaseUrl("a SQLite url must name an absolute file path, as "
                                     "sqlite:////absolute/path.db", url=url.redacted())

    @classmethod
    def local_file(cls, url: DatabaseUrl) -> Path | None:
        return url.file_path

    @classmethod
    def embedded_url(cls, directory: Path, resource_id: str) -> str:
        return f"sqlite:///{(directory / f'{resource_id}.db').resolve()}"

    @property
    def path(self) -> Path:
        return self.url.file_path

    def _engine_options(self) -> dict[str, Any]:
        # no rollback when a connection goes back to the pool: SQLAlchemy's Connection
        # already ends the transactions it began when it closes, and the extra rollback
        # (a thread hop through aiosqlite) cost ~0.2 ms per request, more than a read by key
        return {"poolclass": AsyncAdaptedQueuePool, "pool_size": 5, "max_overflow": 5,
                "pool_reset_on_return": None}

    direct_read_budget: float = 0.002
    """Seconds a read may run on the event loop before it is handed to a thread."""

    _direct: sqlite3.Connection | None = None
    _deadline: float = 0.0

    def _on_engine_created(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "connect", _pragmas)
        event.listen(engine.sync_engine, "handle_error", _locked_is_unavailable)

    def _over_budget(self) -> int:
        return 1 if time.perf_counter() > self._deadline else 0

    def read_direct(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of a read, run right here on the event loop: a thread hop costs
        more than a small SQLite read. The connection is read-only; SQLite calls a
        progress handler every 1,000 instructions, which aborts a read past
        ``direct_read_budget`` (SlowRead: the caller runs it on aiosqlite's thread
        instead), and a locked database is a SlowRead too, never a wait in the loop."""
        con = self._direct
        if con is None:
            try:
                # as_uri percent-encodes the path: a "?" or "#" in a file name stays
                # part of the name instead of starting the URI's query
                con = sqlite3.connect(self.path.absolute().as_uri() + "?mode=ro", uri=True,
                                      isolation_level=None, check_same_thread=False)
                con.execute("PRAGMA busy_timeout=0")
            except sqlite3.Error as exc:  # let the pool's path open it and say why not
                raise SlowRead(str(exc)) from exc
            con.set_progress_handler(self._over_budget, 1000)
            self._direct = con
        self._deadline = time.perf_counter() + self.direct_read_budget
        try:
            # fetchall, not fetchone: the statement must finish, or its read snapshot
            # would stay open and the next read would not see new writes
            rows = con.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "interrupted" in text or "locked" in text or "busy" in text:
                raise SlowRead(text) from exc
            raise
        return tuple(rows[0]) if rows else None

    _writer: sqlite3.Connection | None = None
    _write_queue: asyncio.Lock | None = None

    WRITE_RETRY = 0.002
    """Seconds between two tries for the write lock another process holds."""

    async def run_writes(self, statements: Sequence[tuple[str, tuple[Any, ...]]],
                         check: Callable[[list[list[tuple[Any, ...]]]], None] | None = None,
                         ) -> list[list[tuple[Any, ...]]] | None:
        """Writes run right on the event loop, on one read-write connection, one after
        the other: a write holds SQLite's one write lock for as long as its statements
        take, so queuing them on a pool's threads only adds hops, and their busy-waits on
        each other's lock made the tail (a second at 16 connections). A read waits at
        most for the one write running (reads in WAL never wait for the lock).

        When another process holds the lock, the write waits for it here, polling
        without blocking the loop, up to the busy timeout; the writes that come
        meanwhile queue behind it in order (``_write_queue``) rather than each polling
        (which let one busy moment turn every later write into a poll: the tail)."""
        con = self._writer
        if con is None:
            try:
                con = sqlite3.connect(self.path, isolation_level=None,
                                      check_same_thread=False)
                con.execute("PRAGMA foreign_keys=ON")
                con.execute("PRAGMA busy_timeout=0")
            except sqlite3.Error:
                return None  # the pool's path opens it and says why not
            self._writer = con
        queue = self._write_queue
        if queue is None:
            queue = self._write_queue = asyncio.Lock()
        if not queue.locked() and self._begin(con):
            return self._run(con, statements, check)
        async with queue:
            deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
            while not self._begin(con):
                if time.monotonic() > deadline:
                    con.execute("BEGIN IMMEDIATE")  # raises "database is locked"
                await asyncio.sleep(self.WRITE_RETRY)
            return self._run(con, statements, check)

    @staticmethod
    def _begin(con: sqlite3.Connection) -> bool:
        """Take the write lock now; False when another connection holds it."""
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if errors.locked(exc):
                return False
            raise
        return True

    @staticmethod
    def _run(con: sqlite3.Connection, statements: Sequence[tuple[str, tuple[Any, ...]]],
             check: Callable[[list[list[tuple[Any, ...]]]], None] | None,
             ) -> list[list[tuple[Any, ...]]]:
        try:
            out = [con.execute(sql, args).fetchall() for sql, args in statements]
            if check is not None:
                check(out)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        return out

    async def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
        if self._direct is not None:
            direct, self._direct = self._direct, None
            direct.close()
        await super().close()

    async def _precheck(self) -> None:
        path = self.path
        if self.create:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                # WAL once, at creation: it is a property of the file, kept across opens
                con = sqlite3.connect(path)
                try:
                    con.execute("PRAGMA journal_mode=WAL")
                finally:
                    con.close()
            return
        if not path.is_file():
            raise DatabaseMissing(f"there is no SQLite file at {str(path)!r}", field="url",
                                  path=str(path))
        with path.open("rb") as fh:
            head = fh.read(len(_HEADER))
        if head and head != _HEADER:
            raise ConnectionCheckFailed(f"the file {str(path)!r} is not a SQLite database",
                                        field="url", path=str(path))

    async def health(self) -> Health:
        if not self.path.is_file():
            return Health("unreachable", "the database file is missing")
        return await super().health()

    def instances(self) -> list[Instance]:
        # an embedded file is reached through dbplane's own host; it has no port
        return [Instance(hostname=socket.gethostname(), port=None)]

    def undefined_object(self, exc: BaseException) -> bool:
        return errors.undefined_object(exc)

    def constraint_violation(self, exc: BaseException, table: TableInfo,
                             written: Collection[str] = ()) -> ConstraintViolation | None:
        return errors.constraint_violation(exc, table, written)
