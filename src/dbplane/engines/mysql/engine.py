"""The MySQL / MariaDB engine, over asyncmy."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dbplane.engines.mysql import errors
from dbplane.engines.mysql.catalog import MariadbCatalog
from dbplane.engines.mysql.ddl import MariadbDdl
from dbplane.engines.mysql.tables import MariadbTables
from dbplane.engines.sql.engine import SQL_PARTS, SqlEngine
from dbplane.errors import ConnectionCheckFailed, ConstraintViolation, ValueTooLarge
from dbplane.query.model import TableInfo

__all__ = ["MysqlEngine"]

def _session(dbapi_connection: Any, _record: Any) -> None:
    # UTC, so TIMESTAMP columns read and write instants the same way on every server;
    # JSON_ARRAYAGG is built on GROUP_CONCAT, which cuts at group_concat_max_len (1 MiB
    # by default): the Tables API renders whole pages with it (1 GiB is the maximum)
    cursor = dbapi_connection.cursor()
    cursor.execute("SET time_zone = '+00:00', group_concat_max_len = 1073741824")
    cursor.execute("SELECT @@max_allowed_packet")
    row = cursor.fetchone()
    cursor.close()
    _record.info["max_allowed_packet"] = int(row[0]) if row else None


def _packet_bound(conn: Any, _cursor: Any, statement: str, parameters: Any,
                  _context: Any, _executemany: bool) -> None:
    """Refuse a statement the server would refuse as bigger than ``max_allowed_packet``
    (it drops the connection on it, and the outcome of a write would look unknown): a
    ValueTooLarge (413) naming the limit, before anything is sent."""
    limit = conn.connection._connection_record.info.get("max_allowed_packet") \
        if conn.connection._connection_record is not None else None
    if not limit:
        return
    size = len(statement.encode("utf-8", "replace"))
    rows = parameters if isinstance(parameters, list) else [parameters]
    for row in rows:
        values = row.values() if isinstance(row, dict) else (row or ())
        for value in values:
            if isinstance(value, str | bytes | bytearray):
                size += len(value) * (2 if isinstance(value, bytes | bytearray) else 1)
    if size > limit:
        raise ValueTooLarge(
            f"the statement is about {size} bytes, more than the server's "
            f"max_allowed_packet ({limit} bytes): send smaller values or fewer rows; "
            "nothing was written", limit=limit, size=size)


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

    def _on_engine_created(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "connect", _session)
        event.listen(engine.sync_engine, "before_cursor_execute", _packet_bound)

    def _engine_options(self) -> dict[str, Any]:
        return {**super()._engine_options(), "pool_recycle": 3600,
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
