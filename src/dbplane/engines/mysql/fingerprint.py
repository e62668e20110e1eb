"""A MariaDB/MySQL database's fingerprint, and a scratch database to restore a drill into.

Every base table of the URL's database with its row count and a content checksum: the
sum of the first 64 bits of the MD5 of each row (its columns' bytes, each quoted so that
NULL and the string ``'NULL'`` differ, joined by a unit separator), computed by the server
in one pass per table, independent of row order, inside one
``START TRANSACTION WITH CONSISTENT SNAPSHOT`` (InnoDB tables read as of one moment; other
engines have no snapshot). Identifiers come from ``information_schema``, quoted.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text

from dbplane.engines.base import Engine
from dbplane.engines.fingerprint import Fingerprint, fingerprint_error
from dbplane.engines.scratch import engine_at, scratch_name, with_database
from dbplane.engines.sql.engine import SqlEngine
from dbplane.errors import DrillScratchUnavailable

__all__ = ["fingerprint", "scratch"]

_COLUMNS = text(
    "SELECT c.TABLE_NAME, c.COLUMN_NAME FROM information_schema.COLUMNS c "
    "JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA "
    "AND t.TABLE_NAME = c.TABLE_NAME "
    "WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' "
    "ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION")


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _checksum_sql(table: str, columns: list[str]) -> str:
    parts = ", ".join(f"QUOTE(CAST({_ident(c)} AS BINARY))" for c in columns)
    return ("SELECT COUNT(*), COALESCE(SUM(CAST(CONV(LEFT(MD5(CONCAT_WS(0x1f, "  # noqa: S608
            f"{parts})), 16), 16, 10) AS DECIMAL(65, 0))), 0) FROM {_ident(table)}")


async def fingerprint(engine: Engine) -> Fingerprint:
    """The fingerprint of the engine's database (the type's ``fingerprint`` part)."""
    assert isinstance(engine, SqlEngine)
    try:
        return await _read(engine)
    except Exception as exc:
        raise fingerprint_error(engine, exc) from exc


async def _read(engine: SqlEngine) -> Fingerprint:
    found: Fingerprint = {}
    async with engine.sa_engine.connect() as conn:
        await conn.exec_driver_sql(
            "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        await conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            tables: dict[str, list[str]] = {}
            for table, column in (await conn.execute(_COLUMNS)).all():
                tables.setdefault(str(table), []).append(str(column))
            for table, columns in tables.items():
                # identifiers from information_schema, quoted: nothing of a user's
                row: Any = (await conn.exec_driver_sql(_checksum_sql(table,
                                                                     columns))).one()
                found[table] = {"rows": int(row[0]), "checksum": str(int(row[1]))}
        finally:
            await conn.exec_driver_sql("ROLLBACK")
    return found


@contextlib.asynccontextmanager
async def scratch(engine: Engine) -> AsyncIterator[Engine]:
    """A scratch database on the same server (``dbplane_drill_<hex>``), dropped on exit.
    DrillScratchUnavailable when the user may not create one."""
    assert isinstance(engine, SqlEngine)
    name = scratch_name()
    async with engine.sa_engine.connect() as conn:
        try:
            await conn.exec_driver_sql(f"CREATE DATABASE {_ident(name)}")
        except Exception as exc:
            if "denied" not in str(exc).lower():
                raise
            raise DrillScratchUnavailable(
                f"the user {engine.url.url.username!r} may not create a database, and a "
                "drill restores into a scratch database on the same server; grant it "
                "CREATE", database=engine.url.database or "") from exc
    copy = engine_at(engine, with_database(engine, name))
    try:
        yield copy
    finally:
        await copy.close()
        async with engine.sa_engine.connect() as conn:
            await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_ident(name)}")
