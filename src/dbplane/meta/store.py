"""The metadata store: one SQLAlchemy async engine over SQLite (default) or PostgreSQL.

``open_meta_store`` creates the engine and brings the schema to the newest Alembic
revision; the named queries in ``meta/queries.py`` run on its connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dbplane.errors import InvalidField

__all__ = ["STORE_UNAVAILABLE", "MetaStore", "alembic_config", "meta_engine_url"]

T = TypeVar("T")

# what the store raises when it could not do the work this time (a lock held too long, a
# lost connection): the caller may try again
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (DBAPIError,)

_MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic's `context` is a process-wide proxy: one migration at a time per process
_MIGRATION_LOCK = asyncio.Lock()


def meta_engine_url(meta_url: str | None, meta_file: Path) -> str:
    """The SQLAlchemy URL (with its async driver) of the metadata store."""
    if meta_url is None:
        return f"sqlite+aiosqlite:///{meta_file.resolve()}"
    url = make_url(meta_url)
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise InvalidField("DBPLANE_META_URL must be a postgresql:// URL",
                           field="DBPLANE_META_URL", value=url.drivername)
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while a writer commits; foreign keys are off by default
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class MetaStore:
    """Owns the metadata store's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    async def open(cls, meta_url: str | None, meta_file: Path) -> MetaStore:
        """Connect and migrate to the newest schema (safe with replicas starting at once)."""
        url = meta_engine_url(meta_url, meta_file)
        if meta_url is None:
            meta_file.parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(url)
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            engine = create_async_engine(url, pool_size=10, max_overflow=10,
                                         pool_pre_ping=True)
        store = cls(engine)
        await store.migrate()
        return store

    async def migrate(self, revision: str = "head") -> None:
        def upgrade(sync_conn: Connection) -> None:
            command.upgrade(alembic_config(sync_conn), revision)

        async with _MIGRATION_LOCK, self.engine.begin() as conn:
            await conn.run_sync(upgrade)

    async def downgrade(self, revision: str) -> None:
        """Take the schema back to ``revision`` (``base``: no tables at all)."""

        def downgrade(sync_conn: Connection) -> None:
            command.downgrade(alembic_config(sync_conn), revision)

        async with _MIGRATION_LOCK, self.engine.begin() as conn:
            await conn.run_sync(downgrade)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed on success."""
        async with self.engine.begin() as conn:
            yield conn

    async def write(self, fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``fn`` in a transaction that, once begun, ends (committed, or rolled back on
        ``fn``'s error) even if the caller is cancelled meanwhile: the cancel is raised
        to the caller after. A cancel landing inside a transaction (an operation's task
        cancelled while it records its state) could leave a SQLite store locked."""
        async def run() -> T:
            async with self.begin() as conn:
                return await fn(conn)

        task = asyncio.ensure_future(run())
        cancelled: asyncio.CancelledError | None = None
        while not task.done():
            try:
                await asyncio.wait([task])  # a cancel of the caller leaves the task be
            except asyncio.CancelledError as exc:
                cancelled = exc
        if cancelled is not None:
            if not task.cancelled():
                task.exception()  # retrieved: the cancel is what the caller gets
            raise cancelled
        return task.result()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def ping(self) -> None:
        """One round trip to the store."""
        async with self.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
