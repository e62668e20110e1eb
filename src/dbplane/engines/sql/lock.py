"""The database-level lock: what migration runs and schema applies hold, so that runs
from several dbplane processes (replicas) sharing a database go one after the other and
a run and an apply exclude each other.

Each SQL type implements :class:`DatabaseLock` in its package (``lock.py``): PostgreSQL
``pg_try_advisory_xact_lock`` (held to the commit or rollback), MariaDB ``GET_LOCK`` (held
until ``release``), SQLite ``BEGIN IMMEDIATE`` (the file's write lock, held to the commit
or rollback). Every wait is the database's (busy_timeout, pg_sleep, GET_LOCK's timeout):
the async drivers await it, so a waiting run never blocks the event loop. A lock held
past ``wait`` seconds is :class:`LockBusy`, which the caller words for its own route.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.engine import Connection

from dbplane.engines.base import Engine
from dbplane.engines.parts import part

__all__ = ["DatabaseLock", "LockBusy", "lock_of"]


class LockBusy(Exception):
    """The lock was held by another run for longer than the wait; the message names the
    kind of lock."""


class DatabaseLock:
    """One type's database-level lock, taken on a synchronous SQLAlchemy connection
    (inside ``run_sync``)."""

    transactional_ddl: ClassVar[bool] = True
    """Whether DDL run under the lock rolls back with the transaction (not on MariaDB,
    where every DDL statement commits)."""

    def acquire(self, conn: Connection, wait: float) -> None:
        """Take the lock, waiting at most ``wait`` seconds; LockBusy otherwise."""
        raise NotImplementedError

    def release(self, conn: Connection) -> None:
        """Let the lock go, where the transaction's end does not."""


def lock_of(engine: Engine) -> DatabaseLock:
    """The database-level lock of ``engine``'s type (KeyError for a type without one)."""
    lock: DatabaseLock = part(engine, "lock")()
    return lock
