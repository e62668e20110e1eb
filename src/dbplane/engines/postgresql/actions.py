"""PostgreSQL actions: logical databases, extensions, running queries, pg_stat_statements.

CREATE/DROP DATABASE cannot run in a transaction: they run on a pooled connection of the
registered database switched to AUTOCOMMIT (any database of the server can create or drop
another one; the registered one itself is protected). ``reset-database`` connects to the
logical database it empties with a throw-away connection (no pool).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from dbplane.engines.actions import ActionsAdapter, same_server, translated
from dbplane.engines.base import exception_chain
from dbplane.engines.postgresql.engine import PostgresqlEngine
from dbplane.engines.urls import DatabaseUrl
from dbplane.errors import (
    ActionRefused,
    BackendNotFound,
    DbplaneError,
    LogicalDatabaseExists,
    LogicalDatabaseInUse,
    LogicalDatabaseNotFound,
    StatStatementsUnavailable,
)

__all__ = ["PostgresqlActions"]

_STAT = "pg_stat_statements"


def _sqlstate(exc: BaseException) -> str | None:
    for cur in exception_chain(exc):
        if isinstance(cur, asyncpg.PostgresError):
            return str(getattr(cur, "sqlstate", "") or "") or None
    return None


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _preloaded(setting: str) -> bool:
    names = [part.strip().strip('"').strip() for part in setting.split(",")]
    return _STAT in names


class PostgresqlActions(ActionsAdapter):
    supported: ClassVar[frozenset[str]] = frozenset({
        "list-actions", "list-databases", "create-database", "delete-database",
        "reset-database", "list-extensions", "pg-list-queries", "pg-cancel-query",
        "pg-terminate-query", "pg-stat-statements-enable", "pg-stat-statements-reset",
        "pg-stat-statements-list",
    })
    system_databases: ClassVar[frozenset[str]] = frozenset(
        {"postgres", "template0", "template1"})

    engine: PostgresqlEngine
    reset_lock_timeout_ms: int = 10_000
    """How long ``reset-database`` waits for another session's lock before it gives up."""

    def own_database(self) -> str | None:
        # an URL without a database connects to the one named like the user
        return self.engine.url.database or self.engine.url.url.username or "postgres"

    def logical_name(self, url: DatabaseUrl) -> str | None:
        if not same_server(url, self.engine.url):
            return None
        return url.database or url.url.username or "postgres"

    def _quote(self, name: str) -> str:
        return self.engine.sa_engine.dialect.identifier_preparer.quote_identifier(name)

    def _known(self, name: str) -> Callable[[BaseException], DbplaneError | None]:
        def known(exc: BaseException) -> DbplaneError | None:
            state = _sqlstate(exc)
            if state == "42P04":
                return LogicalDatabaseExists(
                    f"the server already has a database named {name!r}", database_name=name)
            if state == "3D000":
                return LogicalDatabaseNotFound(
                    f"the server has no database named {name!r}", database_name=name)
            if state == "55006":
                return LogicalDatabaseInUse(
                    f"other sessions are connected to the database {name!r}: close them, "
                    "or pass \"force\": true to end them (PostgreSQL 13 or later)",
                    database_name=name)
            if state == "55P03":
                return LogicalDatabaseInUse(
                    f"another session holds a lock in the database {name!r} (waited "
                    f"{self.reset_lock_timeout_ms / 1000:g} s); "
                    "nothing was changed: retry when it is done", database_name=name)
            return None
        return known

    async def _autocommit(self, sql: str, name: str) -> None:
        async with translated(self.engine, self._known(name)), \
                self.engine.sa_engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text(sql))

    # -- logical databases -------------------------------------------------------------

    async def list_databases(self) -> list[str]:
        async with translated(self.engine), self.engine.sa_engine.connect() as conn:
            rows = await conn.execute(text(
                "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname"))
            return [str(r[0]) for r in rows]

    async def create_database(self, name: str) -> None:
        await self._autocommit(f"CREATE DATABASE {self._quote(name)}", name)

    async def delete_database(self, name: str, *, force: bool = False) -> None:
        sql = f"DROP DATABASE {self._quote(name)}"
        if force:
            if await self._version_num() < 130000:
                raise ActionRefused("\"force\" needs PostgreSQL 13 or later (DROP DATABASE "
                                    "... WITH (FORCE)); close the other sessions instead",
                                    field="params.force")
            sql += " WITH (FORCE)"
        else:
            # PostgreSQL itself waits 5 s for them to leave before it refuses: say it now
            async with translated(self.engine), self.engine.sa_engine.connect() as conn:
                sessions = int((await conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name})).scalar_one())
            if sessions:
                raise LogicalDatabaseInUse(
                    f"{sessions} other session(s) are connected to the database {name!r}: "
                    "close them, or pass \"force\": true to end them (PostgreSQL 13 or "
                    "later)", database_name=name, sessions=sessions)
        await self._autocommit(sql, name)

    async def reset_database(self, name: str) -> None:
        """Drop every schema of the database but PostgreSQL's own (tables, views,
        functions, types and the extensions in them), in one transaction, and create an
        empty ``public`` schema as ``initdb`` makes it. The database itself, its owner
        and its settings stay."""
        if name not in await self.list_databases():
            raise LogicalDatabaseNotFound(f"the server has no database named {name!r}",
                                          database_name=name)
        url = self.engine.url.url.set(drivername=self.engine.driver, database=name)
        throwaway = create_async_engine(url, poolclass=NullPool,
                                        connect_args={"timeout": self.engine.timeout})
        try:
            async with translated(self.engine, self._known(name)), \
                    throwaway.begin() as conn:
                # a session holding a lock makes this wait: give up after a while
                await conn.execute(text("SELECT set_config('lock_timeout', :ms, true)"),
                                   {"ms": str(self.reset_lock_timeout_ms)})
                schemas = await conn.execute(text(
                    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                    "AND nspname <> 'information_schema' ORDER BY nspname"))
                for (schema,) in schemas.all():
                    await conn.execute(text(f"DROP SCHEMA {self._quote(schema)} CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
                if await self._version_num(conn) >= 150000:
                    await conn.execute(text("ALTER SCHEMA public OWNER TO pg_database_owner"))
                    await conn.execute(text("GRANT USAGE ON SCHEMA public TO PUBLIC"))
                else:
                    await conn.execute(text("GRANT ALL ON SCHEMA public TO PUBLIC"))
        finally:
            await throwaway.dispose()

    async def _version_num(self, conn: AsyncConnection | None = None) -> int:
        query = text("SELECT current_setting('server_version_num')::int")
        if conn is not None:
            return int((await conn.execute(query)).scalar_one())
        async with translated(self.engine), self.engine.sa_engine.connect() as own:
            return int((await own.execute(query)).scalar_one())

    # -- extensions and queries ----------------------------------------------------------

    async def list_extensions(self) -> list[dict[str, str]]:
        async with translated(self.engine), self.engine.sa_engine.connect() as conn:
            rows = await conn.execute(text(
                "SELECT extname, extversion FROM pg_extension ORDER BY extname"))
            return [{"name": str(r[0]), "version": f"v{r[1]}"} for r in rows]

    async def list_queries(self) -> list[dict[str, Any]]:
        """The client sessions of this database but the one asking, oldest query first;
        ``query_duration`` in nanoseconds: until now for an active query, until it ended
        (``state_change``) for the others."""
        async with translated(self.engine), self.engine.sa_engine.connect() as conn:
            rows = await conn.execute(text(
                "SELECT pid, usename, state, query, query_start, "
                "(EXTRACT(EPOCH FROM (CASE WHEN state = 'active' THEN clock_timestamp() "
                "ELSE state_change END) - query_start) * 1000000)::bigint "
                "FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                "ORDER BY query_start NULLS LAST, pid"))
            return [{"query": r[3], "state": r[2], "username": r[1],
                     "query_start": _utc(r[4]), "pid": int(r[0]),
                     "query_duration": None if r[5] is None else int(r[5]) * 1000}
                    for r in rows]

    async def signal_backend(self, pid: int, *, terminate: bool) -> None:
        """``pg_cancel_backend`` or ``pg_terminate_backend`` on a session of this
        database (never one of another database of the server)."""
        function = "pg_terminate_backend" if terminate else "pg_cancel_backend"
        async with translated(self.engine), self.engine.sa_engine.connect() as conn:
            found = (await conn.execute(text(
                "SELECT 1 FROM pg_stat_activity WHERE pid = :pid "
                "AND datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"), {"pid": pid})).first()
            if found is None:
                raise BackendNotFound(f"params.pid: no session of this database has the pid "
                                      f"{pid} (pg-list-queries lists them)", field="params.pid",
                                      value=pid)
            done = (await conn.execute(text(f"SELECT {function}(:pid)"),
                                       {"pid": pid})).scalar_one()
            await conn.commit()
        if not done:
            raise BackendNotFound(f"params.pid: the session {pid} ended before it could be "
                                  "signalled", field="params.pid", value=pid)

    # -- pg_stat_statements ----------------------------------------------------------------

    async def _stat_schema(self, conn: AsyncConnection, *, installed: bool) -> str | None:
        setting = str((await conn.execute(text(
            "SELECT current_setting('shared_preload_libraries')"))).scalar_one())
        if not _preloaded(setting):
            raise StatStatementsUnavailable(
                "pg_stat_statements is not in the server's shared_preload_libraries (it is "
                f"{setting!r}): add it there (postgresql.conf) and restart PostgreSQL, then "
                "run pg-stat-statements-enable", shared_preload_libraries=setting)
        schema = (await conn.execute(text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
            "ON n.oid = e.extnamespace WHERE e.extname = :name"), {"name": _STAT})).scalar()
        if installed and schema is None:
            raise StatStatementsUnavailable(
                "the pg_stat_statements extension is not created in this database: run "
                "pg-stat-statements-enable first")
        return None if schema is None else self._quote(str(schema))

    changeable_features = ("pg-stat-statements",)

    async def feature_status(self, name: str) -> str | None:
        return await self.stat_statements_status()

    async def enable_feature(self, name: str) -> None:
        await self.stat_statements_enable()

    async def disable_feature(self, name: str) -> None:
        await self.stat_statements_disable()

    async def stat_statements_enable(self) -> None:
        async with translated(self.engine), self.engine.sa_engine.begin() as conn:
            await self._stat_schema(conn, installed=False)
            await conn.execute(text(f"CREATE EXTENSION IF NOT EXISTS {_STAT}"))

    async def stat_statements_disable(self) -> None:
        """Drop the extension from this database (nothing to do if it is not there)."""
        async with translated(self.engine), self.engine.sa_engine.begin() as conn:
            await conn.execute(text(f"DROP EXTENSION IF EXISTS {_STAT}"))

    async def stat_statements_status(self) -> str | None:
        """The ``pg-stat-statements`` feature's status: ``ACTIVATED`` when its view can be
        queried in this database, ``FAILED`` when the extension is created but cannot be
        (the server does not preload the library), None when it is not created."""
        async with translated(self.engine), self.engine.sa_engine.connect() as conn:
            schema = (await conn.execute(text(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = :name"),
                {"name": _STAT})).scalar()
            if schema is None:
                return None
            setting = str((await conn.execute(text(
                "SELECT current_setting('shared_preload_libraries')"))).scalar_one())
            if not _preloaded(setting):
                return "FAILED"
            try:
                await conn.execute(text(
                    f"SELECT 1 FROM {self._quote(str(schema))}.{_STAT} LIMIT 1"))  # noqa: S608
            except DBAPIError:
                return "FAILED"
            return "ACTIVATED"

    async def stat_statements_reset(self) -> None:
        async with translated(self.engine), self.engine.sa_engine.begin() as conn:
            schema = await self._stat_schema(conn, installed=True)
            assert schema is not None
            await conn.execute(text(f"SELECT {schema}.pg_stat_statements_reset()"))

    async def stat_statements_list(self) -> list[dict[str, Any]]:
        """This database's statements, the most time-consuming first (times in ms)."""
        async with translated(self.engine), self.engine.sa_engine.connect() as conn:
            schema = await self._stat_schema(conn, installed=True)
            assert schema is not None
            prefix = "" if await self._version_num(conn) < 130000 else "exec_"
            # the schema is quoted by the dialect; the column names are ours
            rows = await conn.execute(text(
                f"SELECT userid::bigint, query, calls, rows, total_{prefix}time, "  # noqa: S608
                f"min_{prefix}time, max_{prefix}time, mean_{prefix}time, "
                f"stddev_{prefix}time FROM {schema}.pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                f"ORDER BY total_{prefix}time DESC"))
            return [{"user_id": int(r[0]), "query": r[1], "calls": int(r[2]),
                     "rows": int(r[3]), "total_time": float(r[4]),
                     "min_time": float(r[5]), "max_time": float(r[6]),
                     "mean_time": float(r[7]), "std_dev": float(r[8])} for r in rows]
