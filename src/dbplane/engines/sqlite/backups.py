"""SQLite backups through SQLite's online backup API, in a worker thread.

The source connection holds one read transaction for the whole copy, so the archive is one
consistent snapshot even while other connections write (in WAL mode they are not blocked;
in rollback mode they wait for the copy). The archive is a plain SQLite file in rollback
(DELETE) journal mode, so it is one self-contained file. Restore copies the archive into
the live file with the same API: one write transaction, atomic for other connections.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from dbplane.engines.backups import ArchiveWriter, Progress, read_head
from dbplane.engines.base import Engine
from dbplane.errors import ArchiveInvalid, DbplaneError, OperationCanceled

__all__ = ["SqliteBackups"]

_HEADER = b"SQLite format 3\x00"
# pages per step of the backup API (4 KiB pages: 64 MiB), between progress reports
_PAGES_PER_STEP = 16384


class _Stop(Exception):
    pass


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, stop: threading.Event,
          report: Any) -> None:
    def progress(_status: int, remaining: int, total: int) -> None:
        if stop.is_set():
            raise _Stop  # aborts the copy: the backup API gives up and releases its locks
        report(1 - remaining / total if total else 1.0)

    source.backup(target, pages=_PAGES_PER_STEP, progress=progress)


def _engine_path(engine: Engine) -> Path:
    return engine.url.file_path


class SqliteBackups:
    format = "sqlite"
    extension = "sqlite3"

    async def _in_thread(self, fn: Any, progress: Progress) -> None:
        stop = threading.Event()
        latest: list[float] = []

        def report(fraction: float) -> None:
            latest.append(fraction)

        task = asyncio.ensure_future(asyncio.to_thread(fn, stop, report))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=0.5)
                if latest:
                    await progress(latest[-1], None)
                    latest.clear()
            task.result()
        except _Stop as exc:
            raise OperationCanceled() from exc
        except BaseException:
            stop.set()  # the thread notices at its next step and ends
            if not task.done():
                await asyncio.wait({task})
            raise

    async def backup(self, engine: Engine, writer: ArchiveWriter, progress: Progress) -> None:
        source_path = _engine_path(engine)
        writer.close_file()

        def run(stop: threading.Event, report: Any) -> None:
            source = sqlite3.connect(source_path.absolute().as_uri() + "?mode=ro", uri=True,
                                     isolation_level=None, check_same_thread=False)
            target = sqlite3.connect(writer.temp, isolation_level=None)
            try:
                source.execute("PRAGMA busy_timeout=10000")
                # one read transaction for the whole copy: one snapshot, never restarted
                source.execute("BEGIN")
                source.execute("SELECT count(*) FROM sqlite_master").fetchall()
                _copy(source, target, stop, report)
                source.execute("COMMIT")
                # the copy keeps the source's WAL flag: make the archive self-contained
                target.execute("PRAGMA journal_mode=DELETE").fetchall()
            finally:
                target.close()
                source.close()

        await self._in_thread(run, progress)
        await asyncio.to_thread(writer.rehash)

    async def check(self, path: Path, *, thorough: bool = True) -> None:
        head = await asyncio.to_thread(read_head, path, len(_HEADER))
        if head != _HEADER:
            raise ArchiveInvalid("the archive is not a SQLite database file (its header is "
                                 "not 'SQLite format 3')", field="archive", format="sqlite")

        def probe() -> None:
            con = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True)
            try:
                con.execute("SELECT count(*) FROM sqlite_master").fetchall()
                status = (con.execute("PRAGMA quick_check(1)").fetchone() if thorough
                          else ("ok",))
            finally:
                con.close()
            if status is None or status[0] != "ok":
                raise ArchiveInvalid(f"the SQLite archive is damaged: {status and status[0]}",
                                     field="archive", format="sqlite")

        try:
            await asyncio.to_thread(probe)
        except sqlite3.DatabaseError as exc:
            raise ArchiveInvalid(f"the SQLite archive cannot be read: {exc}",
                                 field="archive", format="sqlite") from exc

    async def restore(self, engine: Engine, path: Path, progress: Progress,
                      checked: Awaitable[None]) -> None:
        await checked  # nothing is read or changed before
        target_path = _engine_path(engine)

        def run(stop: threading.Event, report: Any) -> None:
            source = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True,
                                     isolation_level=None, check_same_thread=False)
            target = sqlite3.connect(target_path, isolation_level=None, timeout=30)
            try:
                _copy(source, target, stop, report)
            except sqlite3.OperationalError as exc:
                raise DbplaneError(f"SQLite refused the restore: {exc}") from exc
            finally:
                target.close()
                source.close()

        await self._in_thread(run, progress)
