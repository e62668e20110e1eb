"""MariaDB's database-level lock: ``GET_LOCK`` on a name of the current database, held
until released (DDL commits on its own, so no transaction can hold it)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dbplane.engines.sql.lock import DatabaseLock, LockBusy

__all__ = ["LOCK_NAME_SQL", "MysqlLock"]

LOCK_NAME_SQL = "CONCAT('dbplane_migrations.', DATABASE())"


class MysqlLock(DatabaseLock):
    transactional_ddl = False

    def acquire(self, conn: Connection, wait: float) -> None:
        got = conn.execute(sa.text(f"SELECT GET_LOCK({LOCK_NAME_SQL}, :t)"),
                           {"t": max(1, round(wait))}).scalar()
        if got != 1:
            raise LockBusy("GET_LOCK")

    def release(self, conn: Connection) -> None:
        try:
            conn.execute(sa.text(f"SELECT RELEASE_LOCK({LOCK_NAME_SQL})"))
            conn.commit()
        except sa.exc.DBAPIError:
            conn.invalidate()  # a connection in doubt must not go back to the pool
