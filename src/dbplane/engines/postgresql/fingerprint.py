"""A PostgreSQL database's fingerprint, and a whole cluster's (for an upgrade's check).

Every table of the user's schemas (partitions and their parents included) with its row
count and a content checksum: the sum of the first 64 bits of the MD5 of each row's text
form, computed by the server in one pass and constant memory, independent of row order
(a restore or a dump reloads rows in any order). Identifiers come from the live catalog
and are quoted; nothing of a user's is put into the SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from dbplane.engines.base import Engine
from dbplane.engines.fingerprint import Fingerprint, fingerprint_error
from dbplane.engines.scratch import engine_at, scratch_name, with_database
from dbplane.errors import DrillScratchUnavailable

if TYPE_CHECKING:
    import asyncpg

    from dbplane.engines.postgresql.engine import PostgresqlEngine

__all__ = ["around_dump", "cluster_fingerprint", "connection_fingerprint", "fingerprint", "scratch"]

_TABLES = """
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
ORDER BY 1, 2
"""

_ROLES = """
SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
       rolbypassrls
FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname
"""

_DATABASES = ("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate "
              "ORDER BY datname")


_CHECKSUM = ("SELECT count(*) AS rows, coalesce(sum(('x' || left(md5(t::text), 16))"
             "::bit(64)::bigint::numeric), 0)::text AS checksum FROM {target} AS t")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _read(conn: asyncpg.Connection) -> Fingerprint:
    found: Fingerprint = {}
    for table in await conn.fetch(_TABLES):
        target = f"{_ident(table['schema'])}.{_ident(table['name'])}"
        # the identifiers come from the catalog, quoted: nothing of a user's
        # fetch, not fetchrow: an Execute with a row limit rules out a parallel plan,
        # and the scan of a big table is where parallel workers pay
        row = (await conn.fetch(_CHECKSUM.format(target=target)))[0]
        found[f"{table['schema']}.{table['name']}"] = {
            "rows": int(row["rows"]), "checksum": row["checksum"]}
    return found


async def connection_fingerprint(conn: asyncpg.Connection) -> Fingerprint:
    """The fingerprint of the database ``conn`` is connected to, in one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _read(conn)


async def around_dump(engine: Engine,
                      dump: Callable[[], Awaitable[object]]) -> Fingerprint | None:
    """Run ``dump`` (the backup's pg_dump) and answer the fingerprint of the very snapshot
    it dumps: a repeatable-read transaction exports its snapshot (``pg_export_snapshot``),
    pg_dump is given it (``--snapshot``, through ``backups.SNAPSHOT``) and the checksums
    are read in that transaction while pg_dump runs, so a write in between changes
    neither. Both run at once; the transaction stays open until pg_dump has ended. When
    the fingerprint's connection cannot be opened, pg_dump runs alone (its own error, if
    any, is the backup's) and None is answered."""
    import asyncpg

    from dbplane.engines.postgresql.backups import SNAPSHOT

    assert isinstance(engine, _engine_class())
    try:
        conn = await asyncpg.connect(**engine.connect_params())
    except (TimeoutError, OSError, asyncpg.PostgresError):
        await dump()
        return None
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            token = SNAPSHOT.set(str(snapshot))
            try:
                task = asyncio.ensure_future(dump())  # the context (snapshot) is copied
            finally:
                SNAPSHOT.reset(token)
            try:
                found = await _read(conn)
            except Exception as exc:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                raise fingerprint_error(engine, exc) from exc
            except BaseException:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                raise
            await task
            return found
    finally:
        await conn.close()


async def fingerprint(engine: PostgresqlEngine) -> Fingerprint:
    """The fingerprint of the engine's database (the type's ``fingerprint`` part)."""
    import asyncpg

    try:
        conn = await asyncpg.connect(**engine.connect_params())
        try:
            return await connection_fingerprint(conn)
        finally:
            await conn.close()
    except Exception as exc:
        raise fingerprint_error(engine, exc) from exc


async def cluster_fingerprint(url: str) -> Fingerprint:
    """A whole server's fingerprint, reached as a superuser by ``url``: its roles (with
    their attributes), its databases, and every table of every database (entries
    ``role:<name>``, ``database:<name>`` and ``<database>/<schema>.<table>``)."""
    import asyncpg

    found: Fingerprint = {}
    conn = await asyncpg.connect(url, timeout=10)
    try:
        for role in await conn.fetch(_ROLES):
            found[f"role:{role['rolname']}"] = {k: v for k, v in dict(role).items()
                                                if k != "rolname"}
        names = [r["datname"] for r in await conn.fetch(_DATABASES)]
    finally:
        await conn.close()
    for name in names:
        found[f"database:{name}"] = {}
        db = await asyncpg.connect(url, database=name, timeout=10)
        try:
            tables: dict[str, Any] = await connection_fingerprint(db)
        finally:
            await db.close()
        found.update({f"{name}/{table}": value for table, value in tables.items()})
    return found


@contextlib.asynccontextmanager
async def scratch(engine: Engine) -> AsyncIterator[Engine]:
    """A scratch database on the same server (``dbplane_drill_<hex>``, created by the
    engine's role), dropped on exit (``WITH (FORCE)``: a restore tool still connected
    when cancelled does not keep it). DrillScratchUnavailable when the role may not
    create databases."""
    import asyncpg

    assert isinstance(engine, _engine_class())
    name = scratch_name()
    conn = await asyncpg.connect(**engine.connect_params())
    try:
        try:
            await conn.execute(f"CREATE DATABASE {_ident(name)}")
        except asyncpg.InsufficientPrivilegeError as exc:
            raise DrillScratchUnavailable(
                f"the role {engine.url.url.username!r} may not create a database, and a "
                "drill restores into a scratch database on the same server; grant it "
                "CREATEDB", database=engine.url.database or "") from exc
        try:
            yield engine_at(engine, with_database(engine, name))
        finally:
            await conn.execute(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


def _engine_class() -> type[PostgresqlEngine]:
    from dbplane.engines.postgresql.engine import PostgresqlEngine

    return PostgresqlEngine
