"""The SQLite engine: an embedded file under the data directory, or an existing file."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from dbplane.engines.base import Capabilities, Health, Instance
from dbplane.engines.sql import SqlEngine
from dbplane.errors import ConnectionCheckFailed, DatabaseMissing

__all__ = ["SqliteEngine"]

_HEADER = b"SQLite format 3\x00"


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class SqliteEngine(SqlEngine):
    type_name = "sqlite"
    capabilities = Capabilities(sql=True, transactional_ddl=True, backups=True)
    driver = "sqlite+aiosqlite"
    version_query = "SELECT sqlite_version()"

    create: bool = False
    """Create the file when it does not exist (embedded databases)."""

    @property
    def path(self) -> Path:
        return self.url.sqlite_path

    def _engine_options(self) -> dict[str, Any]:
        return {"poolclass": AsyncAdaptedQueuePool, "pool_size": 5, "max_overflow": 5}

    def _on_engine_created(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "connect", _pragmas)

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
