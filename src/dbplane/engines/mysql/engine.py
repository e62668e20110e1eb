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
from dbplane.errors import ConnectionCheckFailed, ConstraintViolation
from dbplane.query.model import TableInfo

__all__ = ["MysqlEngine"]

def _session(dbapi_connection: Any, _record: Any) -> None:
    # UTC, so TIMESTAMP columns read and write instants the same way on every server;
    # JSON_ARRAYAGG is built on GROUP_CONCAT, which cuts at group_concat_max_len (1 MiB
    # by default): the Tables API renders whole pages with it (1 GiB is the maximum)
    cursor = dbapi_connection.cursor()
    cursor.execute("SET time_zone = '+00:00', group_concat_max_len = 1073741824")
    cursor.close()


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
    }
    tables_dialect = MariadbTables()
    catalog_dialect = MariadbCatalog()
    ddl_dialect = MariadbDdl()
    snapshot_vendor = "mysql"
    driver = "mysql+asyncmy"
    version_query = "SELECT VERSION()"

    def _on_engine_created(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "connect", _session)

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
