"""The SQLite engine: an embedded file under the data directory, or an existing file."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import socket
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
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

__all__ = ["Committer", "SlowRead", "SqliteEngine"]

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


@dataclass(slots=True)
class _Write:
    """A queued write: its statements, its check, and the future its caller awaits."""

    statements: Sequence[tuple[str, tuple[Any, ...]]]
    check: Callable[[list[list[tuple[Any, ...]]]], None] | None
    done: asyncio.Future[list[list[tuple[Any, ...]]]]


def _fail(done: asyncio.Future[Any], exc: BaseException | None) -> None:
    if done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)


class Committer:
    """A thread of its own that runs a write connection's COMMITs (the sync to disk)
    off the event loop, one at a time; lighter than an executor's hand-off.

    A COMMIT that syncs quickly (a disk that answers in tens of microseconds) costs less
    than the hand-off to the thread and back: while the recent COMMITs took under
    ``INLINE_BELOW`` seconds (a moving average, measured on both paths), they run on the
    loop itself (:attr:`inline`); a slower one sends the next ones to the thread again."""

    INLINE_BELOW = 1e-4
    _WEIGHT = 0.2

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Any, sqlite3.Connection, Any] | None] = \
            queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.recent = 10 * self.INLINE_BELOW
        """The moving average of COMMIT durations, in seconds: it starts on the thread,
        and a dozen quick COMMITs bring it under ``INLINE_BELOW``."""

    @property
    def inline(self) -> bool:
        """Whether the next COMMIT runs on the loop (see the class docstring)."""
        return self.recent < self.INLINE_BELOW

    def note(self, seconds: float) -> None:
        self.recent += self._WEIGHT * (seconds - self.recent)

    def commit_inline(self, con: sqlite3.Connection) -> None:
        """COMMIT on the caller's thread (the loop), timed."""
        started = time.perf_counter()
        try:
            con.execute("COMMIT")
        finally:
            self.note(time.perf_counter() - started)

    def commit(self, loop: asyncio.AbstractEventLoop,
               con: sqlite3.Connection) -> asyncio.Future[None]:
        """A future that ends when ``con``'s transaction is committed (or failed to)."""
        done: asyncio.Future[None] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dbplane-commit",
                                            daemon=True)
            self._thread.start()
        self._jobs.put((loop, con, done))
        return done

    def _commit(self, con: sqlite3.Connection) -> None:
        started = time.perf_counter()
        try:
            con.execute("COMMIT")
        finally:
            self.note(time.perf_counter() - started)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, con, done = job
            error: BaseException | None = None
            try:
                self._commit(con)
            except BaseException as exc:
                error = exc
            # a closed loop (RuntimeError): nobody waits for the answer
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_fail, done, error)

    def close(self) -> None:
        """Let the COMMIT that runs end, then the thread."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None


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
    _pending: deque[_Write] | None = None
    _flusher: asyncio.Task[None] | None = None
    _committer: Committer | None = None

    WRITE_RETRY = 0.002
    """Seconds between two tries for the write lock another process holds."""
    BATCH_SECONDS = 0.005
    """A batch takes no more writes once its statements have run this long."""

    async def run_writes(self, statements: Sequence[tuple[str, tuple[Any, ...]]],
                         check: Callable[[list[list[tuple[Any, ...]]]], None] | None = None,
                         ) -> list[list[tuple[Any, ...]]] | None:
        """Writes run on one read-write connection, one after the other, in batches
        (group commit): each write's statements run right on the event loop inside a
        SAVEPOINT of the batch's transaction (a write that fails is rolled back to it
        alone, and answers its error), and the batch ends with one COMMIT, run on a
        thread of its own. The COMMIT's sync to disk is most of a small write's time: the
        loop goes on serving (reads never wait for it) while the next writes gather for
        the next batch, so N writes that arrive together cost one sync, not N. A write
        is answered once its batch is committed.

        SQLite has one write lock, so queuing writes on a pool's threads only added hops,
        and their busy-waits on each other's lock made the tail (a second at 16
        connections). When another process holds the lock, the batch waits for it here,
        polling without blocking the loop, up to the busy timeout, the writes that come
        meanwhile queued behind it in order."""
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
            self._pending = deque()
            self._committer = Committer()
        assert self._pending is not None
        done: asyncio.Future[list[list[tuple[Any, ...]]]] = \
            asyncio.get_running_loop().create_future()
        self._pending.append(_Write(statements, check, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(con, self._pending))
        return await done

    async def _flush(self, con: sqlite3.Connection, pending: deque[_Write]) -> None:
        """Run the queued writes, batch after batch, until none is left."""
        loop = asyncio.get_running_loop()
        assert self._committer is not None
        while pending:
            try:
                await self._lock_for_writes(con)
            except asyncio.CancelledError:
                while pending:
                    pending.popleft().done.cancel()
                raise
            except Exception as exc:  # the busy timeout passed: the queue fails
                while pending:
                    _fail(pending.popleft().done, exc)
                return
            batch = self._run_batch(con, pending)
            if not con.in_transaction:
                continue  # SQLite ended the transaction itself (the batch failed)
            try:
                if self._committer.inline:
                    self._committer.commit_inline(con)
                else:
                    await self._committer.commit(loop, con)
            except asyncio.CancelledError:
                # the loop is going away; the COMMIT goes on in its thread (close()
                # waits for it): what it did is unknown here
                for write, _ in batch:
                    write.done.cancel()
                raise
            except Exception as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                for write, _ in batch:
                    _fail(write.done, exc)
                continue
            for write, rows in batch:
                if not write.done.done():
                    write.done.set_result(rows)

    async def _lock_for_writes(self, con: sqlite3.Connection) -> None:
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while not self._begin(con):
            if time.monotonic() > deadline:
                con.execute("BEGIN IMMEDIATE")  # raises "database is locked"
            await asyncio.sleep(self.WRITE_RETRY)

    def _run_batch(self, con: sqlite3.Connection, pending: deque[_Write],
                   ) -> list[tuple[_Write, list[list[tuple[Any, ...]]]]]:
        """The queued writes' statements, each write in a savepoint, until the queue is
        empty or the batch has run ``BATCH_SECONDS``; the writes run and their rows."""
        batch: list[tuple[_Write, list[list[tuple[Any, ...]]]]] = []
        if len(pending) == 1:  # alone: the transaction is its savepoint
            write = pending.popleft()
            if write.done.cancelled():
                return batch
            try:
                rows = [con.execute(sql, args).fetchall() for sql, args in write.statements]
                if write.check is not None:
                    write.check(rows)
            except BaseException as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                _fail(write.done, exc)
                return batch
            return [(write, rows)]
        ends = time.perf_counter() + self.BATCH_SECONDS
        while pending and time.perf_counter() < ends:
            write = pending.popleft()
            if write.done.cancelled():
                continue
            try:
                con.execute("SAVEPOINT w")
                rows = [con.execute(sql, args).fetchall() for sql, args in write.statements]
                if write.check is not None:
                    write.check(rows)
                con.execute("RELEASE w")
            except BaseException as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK TO w")
                    con.execute("RELEASE w")
                    _fail(write.done, exc)
                    continue
                # an error after which SQLite rolls the whole transaction back (disk
                # full, I/O): the batch's earlier writes are gone too
                _fail(write.done, exc)
                for earlier, _ in batch:
                    _fail(earlier.done, exc)
                return []
            batch.append((write, rows))
        return batch

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

    async def close(self) -> None:
        flusher, self._flusher = self._flusher, None
        if flusher is not None and not flusher.done():
            await asyncio.wait([flusher])  # the queued writes are answered first
        if self._committer is not None:
            committer, self._committer = self._committer, None
            committer.close()  # a COMMIT still running ends first
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
