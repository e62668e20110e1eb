"""The MySQL / MariaDB engine, over asyncmy."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dbplane.engines.base import Capabilities, exception_chain
from dbplane.engines.sql.engine import SqlEngine, constraint_error
from dbplane.errors import (
    ConnectionCheckFailed,
    ConstraintViolation,
    DatabaseAuthFailed,
    DatabaseHostUnknown,
    DatabaseMissing,
    DatabaseUnreachable,
)
from dbplane.query.model import TableInfo

__all__ = ["MysqlEngine"]

# MySQL client and server error numbers met while connecting
_ACCESS_DENIED = {1044, 1045, 1698}
_UNKNOWN_DATABASE = 1049
_CANT_CONNECT = {2002, 2003, 2006, 2013}
_UNKNOWN_HOST = 2005

# integrity errors: the message names the column, the key or the constraint
_NOT_NULL = {1048, 1364}  # "Column 'c' cannot be null", "Field 'c' doesn't have a default"
_DUPLICATE = 1062  # "Duplicate entry '…' for key 'name'"
_FOREIGN_KEY = {1451, 1452}  # "… CONSTRAINT `name` FOREIGN KEY (`c`) REFERENCES …"
_CHECK = {4025, 3819}  # MariaDB, MySQL: "CONSTRAINT `name` failed for …" / "Check … `name`"
_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_BACKQUOTED = re.compile(r"`((?:[^`]|``)*)`")
_DUPLICATE_KEY = re.compile(r"for key '(.*)'$")


def _session(dbapi_connection: Any, _record: Any) -> None:
    # UTC, so TIMESTAMP columns read and write instants the same way on every server;
    # JSON_ARRAYAGG is built on GROUP_CONCAT, which cuts at group_concat_max_len (1 MiB
    # by default): the Tables API renders whole pages with it (1 GiB is the maximum)
    cursor = dbapi_connection.cursor()
    cursor.execute("SET time_zone = '+00:00', group_concat_max_len = 1073741824")
    cursor.close()


class MysqlEngine(SqlEngine):
    type_name = "mysql"
    # DDL commits implicitly on MySQL and MariaDB
    capabilities = Capabilities(sql=True, transactional_ddl=False, backups=True)
    driver = "mysql+asyncmy"
    version_query = "SELECT VERSION()"

    def _on_engine_created(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "connect", _session)

    def _engine_options(self) -> dict[str, Any]:
        return {**super()._engine_options(), "pool_recycle": 3600,
                "connect_args": {"connect_timeout": max(1, int(self.timeout))}}

    def _translate(self, exc: BaseException) -> ConnectionCheckFailed | None:
        user = self.url.url.username
        for cur in exception_chain(exc):
            args: tuple[object, ...] = tuple(getattr(cur, "args", ()))
            number = args[0] if args and isinstance(args[0], int) else None
            if number in _ACCESS_DENIED:
                return DatabaseAuthFailed(
                    f"the server refused user {user!r} or its password: "
                    f"{args[1] if len(args) > 1 else ''}",
                    field="url", user=user)
            if number == _UNKNOWN_DATABASE:
                return DatabaseMissing(
                    f"the server has no database {self.url.database!r}", field="url",
                    database_name=self.url.database)
            if number == _UNKNOWN_HOST:
                return DatabaseHostUnknown(f"the host {self.url.host!r} does not resolve",
                                           field="url", host=self.url.host)
            if number in _CANT_CONNECT:
                known = super()._translate(exc)
                return known or DatabaseUnreachable(
                    f"nothing answers at {self.url.host}:{self.url.port}", field="url",
                    host=self.url.host, port=self.url.port)
        return super()._translate(exc)

    async def features(self) -> list[dict[str, str]]:
        async with self.sa_engine.connect() as conn:
            cipher = (await conn.execute(text("SHOW SESSION STATUS LIKE 'Ssl_cipher'"))).first()
        if cipher is not None and cipher[1]:
            return [{"name": "tls", "status": "ACTIVATED"}]
        return []

    def constraint_violation(self, exc: BaseException, table: TableInfo,
                             written: Collection[str] = ()) -> ConstraintViolation | None:
        for cur in exception_chain(exc):
            args: tuple[object, ...] = tuple(getattr(cur, "args", ()))
            if len(args) < 2 or not isinstance(args[0], int):
                continue
            number, message = args[0], str(args[1])
            quoted = [q.replace("''", "'") for q in _QUOTED.findall(message)]
            backquoted = [q.replace("``", "`") for q in _BACKQUOTED.findall(message)]
            if number in _NOT_NULL:
                return constraint_error("not_null", table,
                                        column=quoted[0] if quoted else None)
            if number == _DUPLICATE:
                # "Duplicate entry '<value, not shown>' for key '<name>'"
                key = _DUPLICATE_KEY.search(message)
                return constraint_error("unique", table,
                                        constraint=key.group(1) if key else None)
            if number in _FOREIGN_KEY:
                # (`db`.`child`, CONSTRAINT `fk` FOREIGN KEY (`col`) REFERENCES …
                after = message.split("CONSTRAINT", 1)[-1]
                names = [q.replace("``", "`") for q in _BACKQUOTED.findall(after)]
                return constraint_error("foreign_key", table,
                                        constraint=names[0] if names else None,
                                        columns=names[1:2] or None)
            if number in _CHECK:
                return constraint_error("check", table,
                                        constraint=backquoted[0] if backquoted else None)
        return None
