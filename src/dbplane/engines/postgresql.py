"""The PostgreSQL engine, over asyncpg."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import text

from dbplane.engines.base import Capabilities, exception_chain
from dbplane.engines.sql import SqlEngine
from dbplane.errors import ConnectionCheckFailed, DatabaseAuthFailed, DatabaseMissing

__all__ = ["PostgresqlEngine"]


class PostgresqlEngine(SqlEngine):
    type_name = "postgresql"
    capabilities = Capabilities(sql=True, transactional_ddl=True, backups=True)
    driver = "postgresql+asyncpg"
    version_query = "SHOW server_version"

    def _engine_options(self) -> dict[str, Any]:
        return {**super()._engine_options(), "connect_args": {"timeout": self.timeout}}

    def _translate(self, exc: BaseException) -> ConnectionCheckFailed | None:
        user = self.url.url.username
        for cur in exception_chain(exc):
            if isinstance(cur, asyncpg.InvalidPasswordError):
                return DatabaseAuthFailed(
                    f"PostgreSQL refused the password of user {user!r}", field="url",
                    user=user)
            if isinstance(cur, asyncpg.InvalidAuthorizationSpecificationError):
                return DatabaseAuthFailed(
                    f"PostgreSQL refused the user {user!r}: {cur.args[0] if cur.args else ''}",
                    field="url", user=user)
            if isinstance(cur, asyncpg.InvalidCatalogNameError):
                return DatabaseMissing(
                    f"the PostgreSQL server has no database {self.url.database!r}",
                    field="url", database_name=self.url.database)
        return super()._translate(exc)

    async def features(self) -> list[dict[str, str]]:
        features = []
        async with self.sa_engine.connect() as conn:
            installed = (await conn.execute(text(
                "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"))).first()
            ssl = (await conn.execute(text(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))).scalar()
        if installed:
            features.append({"name": "pg-stat-statements", "status": "ACTIVATED"})
        if ssl:
            features.append({"name": "tls", "status": "ACTIVATED"})
        return features
