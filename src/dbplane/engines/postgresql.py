"""The PostgreSQL engine, over asyncpg."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import asyncpg
from sqlalchemy import text

from dbplane.engines.base import Capabilities, exception_chain
from dbplane.engines.sql import SqlEngine, constraint_error
from dbplane.errors import (
    ConnectionCheckFailed,
    ConstraintViolation,
    DatabaseAuthFailed,
    DatabaseMissing,
)
from dbplane.query.model import TableInfo

__all__ = ["PostgresqlEngine"]

_KEY_COLUMNS = re.compile(r"Key \((.*?)\)=\(")
_SQLSTATES = {"23502": "not_null", "23505": "unique", "23503": "foreign_key",
              "23514": "check"}


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

    def constraint_violation(self, exc: BaseException, table: TableInfo,
                             written: Collection[str] = ()) -> ConstraintViolation | None:
        # asyncpg's errors carry the SQLSTATE and the constraint's (or column's) name
        for cur in exception_chain(exc):
            if not isinstance(cur, asyncpg.PostgresError):
                continue
            kind = _SQLSTATES.get(str(getattr(cur, "sqlstate", "")))
            if kind is None:
                return None
            constraint = getattr(cur, "constraint_name", None)
            if kind == "not_null":
                return constraint_error(kind, table, column=getattr(cur, "column_name", None))
            columns = None
            match = _KEY_COLUMNS.search(str(getattr(cur, "detail", "") or ""))
            if match is not None:
                columns = [c.strip().strip('"') for c in match.group(1).split(", ")]
            return constraint_error(kind, table, constraint=constraint, columns=columns)
        return None
