"""The PostgreSQL engine, over asyncpg."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy import URL, text

from dbplane.engines.postgresql.catalog import PostgresCatalog
from dbplane.engines.postgresql.ddl import PostgresDdl
from dbplane.engines.postgresql.tables import PostgresTables
from dbplane.engines.sql.engine import SQL_PARTS, SqlEngine
from dbplane.engines.urls import DatabaseUrl
from dbplane.errors import (
    ConnectionCheckFailed,
    ConstraintViolation,
    DbplaneError,
    InvalidDatabaseUrl,
)
from dbplane.query.model import TableInfo

if TYPE_CHECKING:  # the driver is imported with the first pool (see registry)
    import asyncpg

__all__ = ["LIBPQ_OPTIONS", "PostgresqlEngine"]

LIBPQ_OPTIONS = ("application_name", "connect_timeout", "password", "sslcert", "sslcrl",
                 "sslkey", "sslmode", "sslpassword", "sslrootcert", "target_session_attrs",
                 "user")
"""The libpq URL options a PostgreSQL URL may carry (docs/security.md)."""
_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

class PostgresqlEngine(SqlEngine):
    type_name = "postgresql"
    label = "PostgreSQL"
    url_schemes = ("postgresql", "postgres")
    aliases = ("postgres",)
    default_port = 5432
    needs_database_name = True
    parts = {
        **SQL_PARTS,
        "backups": "dbplane.engines.postgresql.backups:PostgresqlBackups",
        "actions": "dbplane.engines.postgresql.actions:PostgresqlActions",
        "lock": "dbplane.engines.postgresql.lock:PostgresqlLock",
        "managed": "dbplane.engines.postgresql.managed:ManagedPostgresql",
        "fingerprint": "dbplane.engines.postgresql.fingerprint",
        "pitr": "dbplane.engines.postgresql.pitr:PostgresqlPitr",
        "upgrade": "dbplane.engines.postgresql.upgrade:PostgresqlUpgrade",
    }
    tables_dialect = PostgresTables()
    catalog_dialect = PostgresCatalog()
    ddl_dialect = PostgresDdl()
    snapshot_vendor = "postgres"
    driver = "postgresql+asyncpg"
    version_query = "SHOW server_version"

    # Reads (the Tables API's single statements) run on an asyncpg pool of their own:
    # a SQLAlchemy pool checkout and return cost about twice the query itself. That pool
    # skips asyncpg's reset on release (a round trip): its connections only ever run one
    # read-only statement outside a transaction, and never change session state.
    direct_reads = True
    READ_POOL_SIZE = 20

    def __init__(self, url: DatabaseUrl, *, timeout: float = 3.0) -> None:
        super().__init__(url, timeout=timeout)
        self._read_pool: asyncpg.Pool | None = None
        self._read_pool_lock = asyncio.Lock()
        self._server_error: type[Exception] = _NoServerError

    @classmethod
    def check_url(cls, url: DatabaseUrl) -> None:
        """The base checks, and libpq's URL options: the ones real URLs carry are
        accepted (and passed on to the driver and the backup tools); any other is an
        InvalidDatabaseUrl naming it."""
        super().check_url(url)
        query = url.url.query
        unknown = sorted(set(query) - set(LIBPQ_OPTIONS))
        if unknown:
            raise InvalidDatabaseUrl(
                f"the url has the option(s) {', '.join(unknown)}, which a PostgreSQL "
                f"connection does not take; accepted: {', '.join(LIBPQ_OPTIONS)}",
                url=url.redacted(), options=unknown)
        mode = query.get("sslmode")
        if mode is not None and mode not in _SSL_MODES:
            raise InvalidDatabaseUrl(f"sslmode={mode!r} is not one of "
                                     f"{', '.join(_SSL_MODES)}", url=url.redacted())
        timeout = query.get("connect_timeout")
        if timeout is not None and not (isinstance(timeout, str) and timeout.isdigit()):
            raise InvalidDatabaseUrl(f"connect_timeout={timeout!r} is not a number of "
                                     "seconds", url=url.redacted())

    def _sqlalchemy_url(self) -> URL:
        # the libpq options go to asyncpg through connect_args (_libpq_args)
        return super()._sqlalchemy_url().set(query={})

    def _libpq_args(self) -> dict[str, Any]:
        """asyncpg's arguments for the URL's libpq options: the SSL ones and
        target_session_attrs through a DSN it parses as libpq does, application_name as
        a server setting, connect_timeout bounding the connection timeout."""
        query = {k: str(v) for k, v in self.url.url.query.items()}
        args: dict[str, Any] = {"timeout": self.timeout}
        if "connect_timeout" in query:
            args["timeout"] = min(self.timeout, float(query.pop("connect_timeout")) or
                                  self.timeout)
        if "application_name" in query:
            args["server_settings"] = {"application_name": query.pop("application_name")}
        if query:
            args["dsn"] = "postgresql://?" + urlencode(query)
        return args

    def _engine_options(self) -> dict[str, Any]:
        return {**super()._engine_options(), "connect_args": self._libpq_args()}

    def connect_params(self) -> dict[str, Any]:
        """asyncpg's connection arguments for this database: the ones SQLAlchemy's
        asyncpg dialect would use, with the URL's libpq options."""
        engine = self.sa_engine
        _, params = engine.dialect.create_connect_args(engine.url)
        params.update(self._libpq_args())
        return dict(params)

    async def _open_read_pool(self) -> asyncpg.Pool:
        import asyncpg

        async with self._read_pool_lock:
            if self._read_pool is None:
                params = self.connect_params()
                self._server_error = asyncpg.PostgresError
                self._read_pool = await asyncpg.create_pool(
                    **params, min_size=1,
                    max_size=self.READ_POOL_SIZE, reset=_keep_session,
                    max_inactive_connection_lifetime=1800)
            return self._read_pool

    async def direct_read(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        pool = self._read_pool or await self._open_read_pool()
        async with pool.acquire() as conn:
            try:
                row = await conn.fetchrow(sql, *args)
            except self._server_error:
                raise  # the server refused the statement: the connection is fine
            except BaseException:
                # the connection itself failed (dropped by the server, protocol state
                # broken, cancelled mid-statement): never hand it out again
                conn.terminate()
                raise
        return None if row is None else tuple(row)

    async def run_writes(self, statements: Sequence[tuple[str, tuple[Any, ...]]],
                         check: Callable[[list[list[tuple[Any, ...]]]], None] | None = None,
                         ) -> list[list[tuple[Any, ...]]] | None:
        """On the asyncpg pool too: one statement alone is atomic (one round trip, no
        BEGIN/COMMIT); several run in a transaction. Nothing here changes session state."""
        pool = self._read_pool or await self._open_read_pool()
        async with pool.acquire() as conn:
            try:
                if len(statements) == 1 and check is None:
                    sql, args = statements[0]
                    return [[tuple(r) for r in await conn.fetch(sql, *args)]]
                out: list[list[tuple[Any, ...]]] = []
                async with conn.transaction():
                    for sql, args in statements:
                        out.append([tuple(r) for r in await conn.fetch(sql, *args)])
                    if check is not None:
                        check(out)
                return out
            except self._server_error:
                raise
            except DbplaneError:
                raise  # the check refused: rolled back, the connection is fine
            except BaseException:
                conn.terminate()
                raise

    async def drop_read_connections(self) -> None:
        if self._read_pool is not None:
            await self._read_pool.expire_connections()

    async def close(self) -> None:
        pool, self._read_pool = self._read_pool, None
        try:
            if pool is not None:
                await pool.close()
        finally:
            await super().close()

    def connect_error(self, exc: BaseException) -> ConnectionCheckFailed | None:
        from dbplane.engines.postgresql import errors

        return errors.connect_error(exc, self.url) or super().connect_error(exc)

    async def features(self) -> list[dict[str, str]]:
        features = []
        async with self.sa_engine.connect() as conn:
            installed = (await conn.execute(text(
                "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"))).first()
            preload = str((await conn.execute(text(
                "SELECT current_setting('shared_preload_libraries')"))).scalar_one())
            ssl = (await conn.execute(text(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))).scalar()
        if installed:
            # created but not preloaded by the server: its view cannot be read
            preloaded = "pg_stat_statements" in {
                lib.strip().strip('"') for lib in preload.split(",")}
            features.append({"name": "pg-stat-statements",
                             "status": "ACTIVATED" if preloaded else "FAILED"})
        if ssl:
            features.append({"name": "tls", "status": "ACTIVATED"})
        return features

    def connection_gone(self, exc: BaseException) -> bool:
        from dbplane.engines.postgresql import errors

        return errors.connection_gone(exc)

    def undefined_object(self, exc: BaseException) -> bool:
        from dbplane.engines.postgresql import errors

        return errors.undefined_object(exc)

    def rejected_value(self, exc: BaseException) -> bool:
        from dbplane.engines.postgresql import errors

        return errors.rejected_value(exc)

    def constraint_violation(self, exc: BaseException, table: TableInfo,
                             written: Collection[str] = ()) -> ConstraintViolation | None:
        from dbplane.engines.postgresql import errors

        return errors.constraint_violation(exc, table)


class _NoServerError(Exception):
    """Stands for asyncpg.PostgresError until the read pool has imported the driver."""


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The read pool's reset on release: nothing to reset (see ``direct_reads``)."""
