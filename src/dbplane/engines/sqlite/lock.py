"""SQLite's database-level lock: ``BEGIN IMMEDIATE``, the file's write lock."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dbplane.engines.sql.lock import DatabaseLock, LockBusy
from dbplane.engines.sqlite.engine import BUSY_TIMEOUT_MS
from dbplane.engines.sqlite.errors import locked
from dbplane.errors import DatabaseLocked

__all__ = ["SqliteLock"]


class SqliteLock(DatabaseLock):
    def acquire(self, conn: Connection, wait: float) -> None:
        # the wait is SQLite's busy timeout for this BEGIN, then the engine's own again
        conn.exec_driver_sql(f"PRAGMA busy_timeout={round(wait * 1000)}")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except DatabaseLocked as exc:  # the engine's handle_error names it so
            raise LockBusy("SQLite write lock") from exc
        except sa.exc.OperationalError as exc:
            if locked(exc):
                raise LockBusy("SQLite write lock") from exc
            raise
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
