"""The MySQL / MariaDB engine, over asyncmy."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dbplane.engines.mysql import errors
from dbplane.engines.mysql.catalog import MariadbCatalog
from dbplane.engines.mysql.ddl import MariadbDdl
from dbplane.engines.mysql.pool import SESSION, DriverPool, check_packet, statement_size
from dbplane.engines.mysql.tables import MariadbTables
from dbplane.engines.sql.engine import SQL_PARTS, SqlEngine
from dbplane.engines.urls import DatabaseUrl
from dbplane.errors import ConnectionCheckFailed, ConstraintViolation
from dbplane.query.model import TableInfo

__all__ = ["MysqlEngine"]

def _session(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(SESSION)
    cursor.execute("SELECT @@max_allowed_packet")
    row = cursor.fetchone()
    cursor.close()
    _record.info["max_allowed_packet"] = int(row[0]) if row else None


def _packet_bound(conn: Any, _cursor: Any, statement: str, parameters: Any,
                  _context: Any, _executemany: bool) -> None:
    """A statement bigger than the server's ``max_allowed_packet`` is refused before it
    is sent (``pool.check_packet``), on SQLAlchemy's pool as on the driver pool."""
    limit = conn.connection._connection_record.info.get("max_allowed_packet") \
        if conn.connection._connection_record is not None else None
    if not limit:
        return
    rows = parameters if isinstance(parameters, list) else [parameters]
    values = [v for row in rows for v in (row.values() if isinstance(row, dict) else
                                          (row or ()))]
    check_packet(statement_size(statement, values), limit)


class MysqlEngine(SqlEngine):
    type_name = "mysql"
    label = "MySQL/MariaDB"
    url_schemes = ("mysql", "mariadb")
    aliases = ("mariadb",)
    default_port = 3306
    needs_database_name = True
    parts = {
        **SQL_PARTS,
        "backups": "dbplane.engines.mysql.backups:MysqlBackups",
        "actions": "dbplane.engines.mysql.actions:MysqlActions",
        "lock": "dbplane.engines.mysql.lock:MysqlLock",
        "managed": "dbplane.engines.mysql.managed:ManagedMysql",
        "fingerprint": "dbplane.engines.mysql.fingerprint",
    }
    tables_dialect = MariadbTables()
    catalog_dialect = MariadbCatalog()
    ddl_dialect = MariadbDdl()
    snapshot_vendor = "mysql"
    driver = "mysql+asyncmy"
    version_query = "SELECT VERSION()"

    # The Tables API's statements (writes, and reads by statement) run on an asyncmy
    # pool of the engine's own (``pool.DriverPool``): through SQLAlchemy's a write cost
    # three times a bare pool's. Everything else (schema, routines, bulk writes by
    # filter, actions) stays on SQLAlchemy's.
    direct_reads = True
    DRIVER_POOL_SIZE = 20
    POOL_RECYCLE = 3600

    def __init__(self, url: DatabaseUrl, *, timeout: float = 3.0) -> None:
        super().__init__(url, timeout=timeout)
        self._driver_pool = DriverPool(self._driver_args, self.DRIVER_POOL_SIZE,
                                       self.POOL_RECYCLE)

    def _driver_args(self) -> dict[str, Any]:
        # the same connection arguments SQLAlchemy's asyncmy dialect uses (FOUND_ROWS:
        # an UPDATE counts the rows it matched)
        engine = self.sa_engine
        _, params = engine.dialect.create_connect_args(engine.url)
        params.update(self._engine_options()["connect_args"])
        return dict(params)

    async def direct_read(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        return await self._driver_pool.first(sql, args)

    async def run_writes(self, statements: Sequence[tuple[str, tuple[Any, ...]]],
                         check: Callable[[list[list[tuple[Any, ...]]]], None] | None = None,
                         ) -> list[list[tuple[Any, ...]]] | None:
        """On the driver pool: one statement alone in autocommit (one round trip),
        several between BEGIN and COMMIT."""
        return await self._driver_pool.run(statements, check)

    async def drop_read_connections(self) -> None:
        await self._driver_pool.clear()

    async def close(self) -> None:
        try:
            await self._driver_pool.close()
        finally:
            await super().close()

    def _on_engine_created(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "connect", _session)
        event.listen(engine.sync_engine, "before_cursor_execute", _packet_bound)

    def _engine_options(self) -> dict[str, Any]:
        return {**super()._engine_options(), "pool_recycle": self.POOL_RECYCLE,
                "connect_args": {"connect_timeout": max(1, int(self.timeout))}}

    def connect_error(self, exc: BaseException) -> ConnectionCheckFailed | None:
        return errors.connect_error(exc, self.url) or super().connect_error(exc)

    async def features(self) -> list[dict[str, str]]:
        async with self.sa_engine.connect() as conn:
            cipher = (await conn.execute(text("SHOW SESSION STATUS LIKE 'Ssl_cipher'"))).first()
        if cipher is not None and cipher[1]:
            return [{"name": "tls", "status": "ACTIVATED"}]
        return []

    def connection_gone(self, exc: BaseException) -> bool:
        return errors.connection_gone(exc)

    def undefined_object(self, exc: BaseException) -> bool:
        return errors.undefined_object(exc)

    def rejected_value(self, exc: BaseException) -> bool:
        return errors.rejected_value(exc)

    def constraint_violation(self, exc: BaseException, table: TableInfo,
                             written: Collection[str] = ()) -> ConstraintViolation | None:
        return errors.constraint_violation(exc, table)
