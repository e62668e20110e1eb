"""PostgreSQL reads run on an asyncpg pool of the engine's own (no SQLAlchemy checkout,
no reset round trip): they answer the same rows, keep no session state between reads,
and the pool's connections end when the engine is closed."""

from __future__ import annotations

import asyncpg
import pytest

from dbplane.engines import create_engine_for, parse_database_url
from dbplane.engines.postgresql.engine import PostgresqlEngine
from dbplane.engines.sql.reconnect import connection_lost as _connection_lost
from tests.fixtures.servers import SqlDatabase


async def _backends(admin: asyncpg.Connection, name: str) -> int:
    count = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        name)
    return int(count)


@pytest.fixture
async def admin(pg_url: SqlDatabase) -> asyncpg.Connection:
    conn = await asyncpg.connect(pg_url.url.replace("postgresql://", "postgres://", 1))
    await conn.execute("CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY, v text)")
    await conn.execute("INSERT INTO t VALUES (1, 'one') ON CONFLICT DO NOTHING")
    yield conn
    await conn.close()


async def test_reads_use_the_read_pool_and_close_with_the_engine(
    pg_url: SqlDatabase, admin: asyncpg.Connection
) -> None:
    engine = create_engine_for(parse_database_url(pg_url.url), timeout=3)
    assert isinstance(engine, PostgresqlEngine) and engine.direct_reads
    before = await _backends(admin, pg_url.name)
    try:
        assert await engine.direct_read("SELECT v FROM t WHERE id = $1", (1,)) == ("one",)
        assert await engine.direct_read("SELECT v FROM t WHERE id = $1", (2,)) is None
        # its own connections, apart from SQLAlchemy's pool (never opened here)
        assert engine._engine is None or engine.sa_engine.pool.checkedout() == 0
        assert await _backends(admin, pg_url.name) == before + 1
    finally:
        await engine.close()
    assert await _backends(admin, pg_url.name) == before


async def test_a_dropped_read_connection_is_replaced(
    pg_url: SqlDatabase, admin: asyncpg.Connection
) -> None:
    engine = create_engine_for(parse_database_url(pg_url.url), timeout=3)
    assert isinstance(engine, PostgresqlEngine)
    try:
        pid = (await engine.direct_read("SELECT pg_backend_pid()", ()) or (0,))[0]
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        # however the driver words it, the Tables API sees a lost connection (and reads
        # again on a fresh one)
        with pytest.raises(Exception) as info:
            await engine.direct_read("SELECT 1", ())
        assert _connection_lost(engine, info.value), repr(info.value)
        await engine.drop_read_connections()
        assert await engine.direct_read("SELECT 1", ()) == (1,)
    finally:
        await engine.close()
