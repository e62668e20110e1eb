"""PostgreSQL's database-level lock: a transaction-level advisory lock."""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dbplane.engines.sql.lock import DatabaseLock, LockBusy

__all__ = ["LOCK_KEY", "PostgresqlLock"]

LOCK_KEY = 0x6462706C616E65  # "dbplane"


class PostgresqlLock(DatabaseLock):
    def acquire(self, conn: Connection, wait: float) -> None:
        deadline = time.monotonic() + wait
        while not conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"),
                               {"k": LOCK_KEY}).scalar():
            if time.monotonic() > deadline:
                raise LockBusy("advisory lock")
            conn.execute(sa.text("SELECT pg_sleep(0.05)"))
