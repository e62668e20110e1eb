"""The MySQL / MariaDB engine, over asyncmy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from dbplane.engines.base import Capabilities, exception_chain
from dbplane.engines.sql import SqlEngine
from dbplane.errors import (
    ConnectionCheckFailed,
    DatabaseAuthFailed,
    DatabaseHostUnknown,
    DatabaseMissing,
    DatabaseUnreachable,
)

__all__ = ["MysqlEngine"]

# MySQL client and server error numbers met while connecting
_ACCESS_DENIED = {1044, 1045, 1698}
_UNKNOWN_DATABASE = 1049
_CANT_CONNECT = {2002, 2003, 2006, 2013}
_UNKNOWN_HOST = 2005


class MysqlEngine(SqlEngine):
    type_name = "mysql"
    # DDL commits implicitly on MySQL and MariaDB
    capabilities = Capabilities(sql=True, transactional_ddl=False, backups=True)
    driver = "mysql+asyncmy"
    version_query = "SELECT VERSION()"

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
